//! The services calls share (a state store, an HTTP client, the operator's
//! secrets, ...), held by type. The runtime carries them into every call's
//! store without knowing any of them: each capability opens the services it
//! needs and finds them again by their type, so adding a service-backed
//! capability touches no list here.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

/// The host's shared services, at most one of each type.
#[derive(Default)]
pub struct HostServices {
    by_type: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    names: Vec<&'static str>,
}

impl std::fmt::Debug for HostServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(&self.names).finish()
    }
}

impl HostServices {
    /// Add `service`, replacing one of the same type.
    pub fn insert<T: Any + Send + Sync>(&mut self, service: T) {
        let name = std::any::type_name::<T>();
        if self
            .by_type
            .insert(TypeId::of::<T>(), Arc::new(service))
            .is_none()
        {
            self.names.push(name);
        }
    }

    /// The service of type `T`, if the host opened one.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.by_type.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// Whether a service of type `T` is open.
    pub fn has<T: Any + Send + Sync>(&self) -> bool {
        self.by_type.contains_key(&TypeId::of::<T>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Pool(u32);
    #[derive(Debug, PartialEq)]
    struct Client(&'static str);

    #[test]
    fn services_are_found_by_their_type_only() {
        let mut services = HostServices::default();
        assert_eq!(services.get::<Pool>(), None);
        services.insert(Pool(1));
        services.insert(Client("a"));
        assert_eq!(services.get::<Pool>(), Some(&Pool(1)));
        assert_eq!(services.get::<Client>(), Some(&Client("a")));
        // A type that merely looks alike is another service.
        assert_eq!(services.get::<u32>(), None);
        services.insert(Pool(2));
        assert_eq!(services.get::<Pool>(), Some(&Pool(2)));
        assert_eq!(format!("{services:?}").matches("Pool").count(), 1);
    }
}
