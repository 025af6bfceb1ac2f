//! Which addresses a plugin's request may connect to. Names are resolved by
//! [`PublicOnlyResolver`], which drops every address of the host's own
//! networks (loopback, link-local — cloud metadata at 169.254.169.254
//! included — private, unique-local, CGNAT, unspecified, multicast,
//! reserved), so the address checked is the address connected to and a
//! name cannot be re-pointed at the host's network between the check and
//! the connection. An IP literal in a URL is checked by
//! [`non_public_range`] against what the grant names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The kind of network `ip` belongs to, when it is not the public
/// internet.
pub fn non_public_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => "unspecified",
        (0, _, _) => "this-network",
        (127, _, _) => "loopback",
        (10, _, _) => "private",
        (172, 16..=31, _) => "private",
        (192, 168, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared (CGNAT)",
        (192, 0, 0) => "IETF protocol assignments",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved or broadcast",
        _ => return None,
    })
}

fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_range(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address it embeds.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = segments[6].to_be_bytes();
        let [c, d] = segments[7].to_be_bytes();
        return v4_range(Ipv4Addr::new(a, b, c, d));
    }
    Some(match segments[0] {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        s if s & 0xfe00 == 0xfc00 => "unique-local",
        s if s & 0xffc0 == 0xfe80 => "link-local",
        s if s & 0xffc0 == 0xfec0 => "site-local",
        s if s & 0xff00 == 0xff00 => "multicast",
        // IPv4-compatible (::a.b.c.d, deprecated) and the discard prefix.
        0 => "reserved",
        0x100 if segments[1..4] == [0, 0, 0] => "discard",
        _ => return None,
    })
}

/// A resolver that answers only public addresses; a name with none is an
/// error naming what it resolved to.
#[derive(Debug, Default, Clone, Copy)]
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let looked_up = host.clone();
            let all: Vec<SocketAddr> = tokio::task::spawn_blocking(move || {
                (looked_up.as_str(), 0)
                    .to_socket_addrs()
                    .map(|addrs| addrs.collect::<Vec<_>>())
            })
            .await
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)??;
            let public: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| non_public_range(a.ip()).is_none())
                .collect();
            if public.is_empty() {
                let shown: Vec<String> = all
                    .iter()
                    .map(|a| {
                        format!(
                            "{} ({})",
                            a.ip(),
                            non_public_range(a.ip()).unwrap_or("public")
                        )
                    })
                    .collect();
                return Err(Box::new(NonPublicName {
                    host,
                    resolved: shown.join(", "),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// A name that resolves only to the host's own networks.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{host}` resolves only to addresses of the host's own networks ({resolved}); \
     name the IP literal in the allowed origin, or set `http-allow-private = true` in the \
     granting policy rule"
)]
pub struct NonPublicName {
    host: String,
    resolved: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_own_networks_are_not_public() {
        for (ip, range) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved or broadcast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
        ] {
            assert_eq!(non_public_range(ip.parse().unwrap()), Some(range), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
        ] {
            assert_eq!(non_public_range(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[tokio::test]
    async fn names_of_the_loopback_are_refused() {
        let name: Name = "localhost".parse().unwrap();
        let err = PublicOnlyResolver
            .resolve(name)
            .await
            .err()
            .expect("localhost is refused");
        let text = err.to_string();
        assert!(
            text.contains("`localhost` resolves only to addresses of the host's own networks"),
            "{text}"
        );
        assert!(text.contains("loopback"), "{text}");
    }
}
