//! The client's address behind reverse proxies the operator trusts. The lockout of source
//! addresses and the audit log need the address of the person at the keyboard; behind nginx every
//! request comes from nginx, so five failed logins from anyone would lock everyone out. A proxy
//! listed with `--trusted-proxy` appends the address it saw to `X-Forwarded-For`; the client is
//! the right-most address of that list not itself a trusted proxy (everything left of it may be
//! forged by the client). A request from any other peer is taken at its peer address, whatever
//! headers it sends.

use std::net::IpAddr;

/// The client's address: `peer` unless `peer` is one of `trusted`, then the right-most entry of
/// `forwarded_for` (the `X-Forwarded-For` values, in order) that is not trusted. An entry that is
/// not an address stops the walk at the last address proven (fail closed: never a forged one).
pub fn client_address<'a>(
    peer: Option<IpAddr>,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let mut client = peer?;
    if !trusted.contains(&client) {
        return Some(client);
    }
    let hops: Vec<&str> = forwarded_for.into_iter().flat_map(|v| v.split(',')).map(str::trim).collect();
    for hop in hops.iter().rev() {
        let Some(addr) = parse(hop) else { break };
        client = addr;
        if !trusted.contains(&addr) {
            break;
        }
    }
    Some(client)
}

/// An address as proxies write it: `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or
/// `203.0.113.7:51000`.
fn parse(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(sock) = hop.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_proxy_may_name_the_client() {
        let nginx = ip("10.0.0.2");
        let trusted = [nginx, ip("10.0.0.3")];
        // Direct: the header is ignored.
        assert_eq!(client_address(Some(ip("198.51.100.9")), ["203.0.113.7"], &trusted), Some(ip("198.51.100.9")));
        // Through nginx: the address nginx saw.
        assert_eq!(client_address(Some(nginx), ["203.0.113.7"], &trusted), Some(ip("203.0.113.7")));
        // A client forging the left of the list gets its own address, added by nginx.
        assert_eq!(client_address(Some(nginx), ["1.2.3.4, 203.0.113.7"], &trusted), Some(ip("203.0.113.7")));
        // Two proxies, several headers, a port.
        assert_eq!(client_address(Some(nginx), ["203.0.113.7:5100", "10.0.0.3"], &trusted), Some(ip("203.0.113.7")));
        assert_eq!(client_address(Some(nginx), ["[2001:db8::1]:443"], &trusted), Some(ip("2001:db8::1")));
        // Garbage stops the walk at the last proven hop; no header: the proxy itself.
        assert_eq!(client_address(Some(nginx), ["evil, 10.0.0.3"], &trusted), Some(ip("10.0.0.3")));
        assert_eq!(client_address(Some(nginx), [], &trusted), Some(nginx));
        assert_eq!(client_address(None, ["203.0.113.7"], &trusted), None);
    }
}
