//! The plugin's global allocator on WebAssembly: a bump arena inside the
//! module's initial memory, in front of the standard allocator.
//!
//! The host gives every call a fresh instance whose memory is reset after
//! the call. The standard allocator takes memory only by growing the linear
//! memory, so every fresh instance grew it on its first allocation, and the
//! host shrank it back afterwards: two page-protection changes and a page
//! fault per call, each paid in the kernel. Allocations served from a
//! zero-initialised static (part of the initial memory, reset with the rest
//! of it) cost none of that.
//!
//! The arena hands out memory from the bottom up and takes back only the
//! most recent allocation (the last `Vec` or `String` grown or dropped),
//! which suits a call's short life. Anything that does not fit goes to the
//! standard allocator, so a plugin living long in one instance (instance
//! per session) simply uses the arena once and the standard allocator after.
//!
//! Plugins that install their own `#[global_allocator]` turn this one off
//! with `default-features = false` on this crate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The arena's size: room for what a typical call allocates, small enough
/// that the pages a call never touches cost nothing.
pub const ARENA_BYTES: usize = 256 * 1024;

/// Serves allocations from a static arena first, then from [`System`].
pub struct ArenaFirst {
    bytes: UnsafeCell<[u8; ARENA_BYTES]>,
    /// Bytes of the arena in use, from its start.
    top: AtomicUsize,
}

// SAFETY: the arena is handed out only in disjoint pieces, and `top` is
// only read and written by the thread that allocates; the allocator is
// installed only on single-threaded WebAssembly targets (no `atomics`
// feature), where there is no other thread.
unsafe impl Sync for ArenaFirst {}

impl ArenaFirst {
    pub const fn new() -> Self {
        Self {
            bytes: UnsafeCell::new([0; ARENA_BYTES]),
            top: AtomicUsize::new(0),
        }
    }

    fn base(&self) -> usize {
        self.bytes.get() as usize
    }

    fn owns(&self, ptr: *mut u8) -> bool {
        let at = ptr as usize;
        at >= self.base() && at < self.base() + ARENA_BYTES
    }

    /// The arena piece for `layout`, if it fits.
    fn bump(&self, layout: Layout) -> Option<*mut u8> {
        let base = self.base();
        let top = base + self.top.load(Ordering::Relaxed);
        let start = top.checked_next_multiple_of(layout.align())?;
        let end = start.checked_add(layout.size())?;
        if end > base + ARENA_BYTES {
            return None;
        }
        self.top.store(end - base, Ordering::Relaxed);
        // Derive from the arena's own pointer so the result keeps its
        // provenance.
        Some(self.bytes.get().cast::<u8>().wrapping_add(start - base))
    }

    /// Whether `ptr..ptr + size` is the arena's most recent piece.
    fn is_last(&self, ptr: *mut u8, size: usize) -> bool {
        ptr as usize + size == self.base() + self.top.load(Ordering::Relaxed)
    }
}

impl Default for ArenaFirst {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every piece handed out is either a disjoint, suitably aligned
// range of the arena, or comes from `System` and goes back to it; `owns`
// tells the two apart by address.
unsafe impl GlobalAlloc for ArenaFirst {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            Some(ptr) => ptr,
            // SAFETY: forwarded with the caller's guarantees.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            Some(ptr) => {
                // A piece given back may be handed out again: clear it.
                // SAFETY: `ptr` is valid for `layout.size()` bytes.
                unsafe { ptr.write_bytes(0, layout.size()) };
                ptr
            }
            // SAFETY: forwarded with the caller's guarantees.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !self.owns(ptr) {
            // SAFETY: `ptr` came from `System` with this layout.
            return unsafe { System.dealloc(ptr, layout) };
        }
        if self.is_last(ptr, layout.size()) {
            self.top
                .store(ptr as usize - self.base(), Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.owns(ptr) {
            // SAFETY: `ptr` came from `System` with this layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        let start = ptr as usize - self.base();
        if self.is_last(ptr, layout.size()) {
            // The last piece grows or shrinks in place while it fits.
            if let Some(end) = start.checked_add(new_size)
                && end <= ARENA_BYTES
            {
                self.top.store(end, Ordering::Relaxed);
                return ptr;
            }
        } else if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: the caller guarantees `new_size` with `layout.align()` is
        // a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as for `alloc`; the old piece stays intact until copied.
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            // SAFETY: both pieces are valid for the smaller size and do not
            // overlap (the old one is not the arena's last piece, or the new
            // one came from `System`).
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn pieces_are_aligned_disjoint_and_the_last_one_comes_back() {
        let arena = Box::new(ArenaFirst::new());
        unsafe {
            let a = arena.alloc(layout(3, 1));
            let b = arena.alloc(layout(8, 8));
            assert!(arena.owns(a) && arena.owns(b));
            assert_eq!(b as usize % 8, 0);
            assert!(b as usize >= a as usize + 3);
            arena.dealloc(b, layout(8, 8));
            let c = arena.alloc(layout(8, 8));
            assert_eq!(b, c, "the last piece is reused");
            // Freeing a piece that is not the last keeps the top.
            arena.dealloc(a, layout(3, 1));
            let d = arena.alloc(layout(1, 1));
            assert!(d as usize >= c as usize + 8);
        }
    }

    #[test]
    fn the_last_piece_grows_in_place_and_others_move_with_their_bytes() {
        let arena = Box::new(ArenaFirst::new());
        unsafe {
            let a = arena.alloc(layout(4, 1));
            a.copy_from_nonoverlapping(b"abcd".as_ptr(), 4);
            let grown = arena.realloc(a, layout(4, 1), 100);
            assert_eq!(grown, a, "the last piece grows in place");
            let b = arena.alloc(layout(4, 1));
            let moved = arena.realloc(a, layout(100, 1), 200);
            assert!(moved as usize > b as usize, "a piece below another moves");
            assert_eq!(std::slice::from_raw_parts(moved, 4), b"abcd");
        }
    }

    #[test]
    fn what_does_not_fit_goes_to_the_system_allocator_and_back() {
        let arena = Box::new(ArenaFirst::new());
        unsafe {
            let big = arena.alloc(layout(ARENA_BYTES + 1, 1));
            assert!(!big.is_null() && !arena.owns(big));
            arena.dealloc(big, layout(ARENA_BYTES + 1, 1));
            // Filling the arena exactly, then one byte more.
            let all = arena.alloc(layout(ARENA_BYTES, 1));
            assert!(arena.owns(all));
            let one = arena.alloc(layout(1, 1));
            assert!(!arena.owns(one));
            // Growing the full arena's piece moves it to the system.
            let moved = arena.realloc(all, layout(ARENA_BYTES, 1), ARENA_BYTES + 8);
            assert!(!arena.owns(moved));
            arena.dealloc(moved, layout(ARENA_BYTES + 8, 1));
            arena.dealloc(one, layout(1, 1));
            // The arena is empty again.
            assert!(arena.owns(arena.alloc(layout(16, 1))));
        }
    }

    #[test]
    fn zeroed_pieces_are_zero_even_when_reused() {
        let arena = Box::new(ArenaFirst::new());
        unsafe {
            let a = arena.alloc(layout(64, 8));
            a.write_bytes(0xff, 64);
            arena.dealloc(a, layout(64, 8));
            let z = arena.alloc_zeroed(layout(64, 8));
            assert_eq!(z, a);
            assert!(std::slice::from_raw_parts(z, 64).iter().all(|&x| x == 0));
        }
    }
}
