//! Input generators for the property tests of the parsers: text built
//! from fragments of the format being parsed, mixed with arbitrary text and
//! cut at arbitrary points, so the tests reach deep into a parser as well
//! as its first line of defence.

use proptest::prelude::*;

/// How many cases each property test runs (kept small: CI runs them all).
pub const CASES: u32 = 256;

/// Text made of up to `max` pieces, each one of `fragments` or a short
/// arbitrary string.
pub fn text_from(fragments: &'static [&'static str], max: usize) -> BoxedStrategy<String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(fragments).prop_map(str::to_string),
        1 => any::<String>().prop_map(|s| s.chars().take(24).collect()),
    ];
    proptest::collection::vec(piece, 0..max)
        .prop_map(|pieces| pieces.concat())
        .boxed()
}
