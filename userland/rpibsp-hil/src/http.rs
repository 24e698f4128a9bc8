//! A file server on the laptop for `--http-host`: each pushed file's gzip is served at a path of
//! its own, for the board to fetch with `wget` instead of receiving it over the console.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Files served by GET; anything else is answered 404. Stops when dropped.
pub struct FileServer {
    server: Arc<tiny_http::Server>,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl FileServer {
    /// Listens on `addr` (e.g. `0.0.0.0:0` for any free port on every interface).
    pub fn start(addr: &str) -> io::Result<FileServer> {
        let server = tiny_http::Server::http(addr)
            .map(Arc::new)
            .map_err(|e| io::Error::other(format!("cannot listen on {addr}: {e}")))?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or_else(|| io::Error::other(format!("{addr} is not an IP address")))?;
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let (srv, map) = (Arc::clone(&server), Arc::clone(&files));
        let thread = std::thread::spawn(move || {
            for req in srv.incoming_requests() {
                let body = if *req.method() == tiny_http::Method::Get {
                    map.lock().ok().and_then(|m| m.get(req.url()).cloned())
                } else {
                    None
                };
                // A board that went away mid-transfer is its own problem: it checks the hash.
                let _ = match body {
                    Some(b) => req.respond(tiny_http::Response::from_data(b)),
                    None => req.respond(tiny_http::Response::empty(404)),
                };
            }
        });
        Ok(FileServer {
            server,
            files,
            port,
            thread: Some(thread),
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves `data` at `/N` (a new path each time) and returns the path.
    pub fn add(&self, data: Vec<u8>) -> String {
        let mut files = match self.files.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        let path = format!("/{}", files.len());
        files.insert(path.clone(), data);
        path
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn get(port: u16, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_what_was_added_and_nothing_else() {
        let srv = FileServer::start("127.0.0.1:0").unwrap();
        let a = srv.add(b"first".to_vec());
        let b = srv.add(b"second".to_vec());
        assert_ne!(a, b);
        assert!(get(srv.port(), &a).ends_with("\r\n\r\nfirst"));
        assert!(get(srv.port(), &b).ends_with("\r\n\r\nsecond"));
        assert!(get(srv.port(), "/nope").starts_with("HTTP/1.0 404"));
    }

    #[test]
    fn a_bad_address_is_an_error_naming_it() {
        let e = FileServer::start("not-an-address").err().unwrap();
        assert!(e.to_string().contains("not-an-address"), "{e}");
    }
}
