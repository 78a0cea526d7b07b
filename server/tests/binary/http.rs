//! Plain HTTP/1.0 over a socket, as these tests speak to the real binary (the server closes the
//! connection after the body), and an API token of a demo user, got as a script would: sign in,
//! then ask for a token with the session's CSRF token.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// An answer: its status, its head (status line and headers) and its body.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The value of the first `name: value` header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends one request; `headers` are sent as given.
pub fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    try_request(addr, method, path, headers, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Sends one request; an error when the server cannot be reached or ends the connection without
/// an answer.
pub fn try_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Answer, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).and_then(|()| s.write_all(body)).map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no response head")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw.split_off(split + 4);
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).ok_or("no status")?;
    Ok(Answer { status, head, body })
}

/// A GET with `Authorization: Bearer token` and `Accept: accept`.
pub fn get_with(addr: &str, path: &str, token: &str, accept: &str) -> Answer {
    request(addr, "GET", path, &[("Accept", accept), ("Authorization", &format!("Bearer {token}"))], b"")
}

/// A new API token of the demo user `user` (password `USER-demo-2026`, as the README lists).
pub fn demo_token(addr: &str, user: &str) -> String {
    let login = serde_json::json!({"username": user, "password": format!("{user}-demo-2026")}).to_string();
    let answer = request(addr, "POST", "/api/login", &[("Content-Type", "application/json")], login.as_bytes());
    assert_eq!(answer.status, 200, "signing in as {user}: {}", answer.text());
    let cookie = answer.header("set-cookie").and_then(|c| c.split(';').next()).expect("a session cookie").to_owned();
    let csrf = answer.json()["csrf"].as_str().expect("a CSRF token").to_owned();
    let made = request(
        addr,
        "POST",
        "/api/tokens",
        &[("Content-Type", "application/json"), ("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        br#"{"name":"binary test"}"#,
    );
    assert_eq!(made.status, 201, "making a token: {}", made.text());
    made.json()["token"].as_str().expect("a token").to_owned()
}
