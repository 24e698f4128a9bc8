//! A byte stream to the board's console (serial port, TCP, QEMU socket) with a reader
//! thread, a receive buffer that patterns are searched in, and a raw log of everything
//! received.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::protocol::{find, tail};

/// Console errors.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The serial device could not be opened.
    #[error("cannot open serial port {path} at {baud} baud: {source}")]
    Serial {
        /// Device path.
        path: String,
        /// Baud rate.
        baud: u32,
        /// Underlying error.
        #[source]
        source: serialport::Error,
    },
    /// The TCP console could not be reached.
    #[error("cannot connect to console {addr}: {source}")]
    Tcp {
        /// host:port.
        addr: String,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// The QEMU console socket could not be reached.
    #[error("cannot connect to QEMU's console socket {}: {source}", path.display())]
    Socket {
        /// Socket path.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// Writing to the console failed.
    #[error("writing to the console failed: {0}")]
    Write(#[source] io::Error),
    /// The raw log could not be written.
    #[error("cannot write console log {}: {source}", path.display())]
    Log {
        /// Log path.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
}

/// How the console link ended, if it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Still open.
    Open,
    /// The other side closed it (EOF or hangup).
    Closed(String),
}

/// A pattern wait that did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitError {
    /// Nothing matched in time.
    Timeout {
        /// How long was waited.
        waited: Duration,
        /// Bytes received meanwhile.
        received: usize,
    },
    /// The link closed.
    Closed(String),
}

impl std::fmt::Display for WaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitError::Timeout {
                waited,
                received: 0,
            } => {
                write!(
                    f,
                    "nothing at all received for {:.1} s",
                    waited.as_secs_f64()
                )
            }
            WaitError::Timeout { waited, received } => write!(
                f,
                "not seen within {:.1} s ({received} bytes of other output)",
                waited.as_secs_f64()
            ),
            WaitError::Closed(why) => write!(f, "console closed: {why}"),
        }
    }
}

enum Chunk {
    Data(Vec<u8>),
    Closed(String),
}

/// The open console.
pub struct Console {
    writer: Box<dyn Write + Send>,
    rx: Receiver<Chunk>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    /// Everything received so far.
    pub buf: Vec<u8>,
    /// Search position: patterns are looked for from here on.
    pub cursor: usize,
    log: Option<(File, PathBuf)>,
    state: LinkState,
    last_rx: Instant,
    /// What the console is connected to, for messages.
    pub description: String,
}

trait ReadTimeout: Read + Send {
    fn prepare(&mut self) -> io::Result<()>;
}

impl ReadTimeout for TcpStream {
    fn prepare(&mut self) -> io::Result<()> {
        self.set_read_timeout(Some(Duration::from_millis(100)))
    }
}

impl ReadTimeout for UnixStream {
    fn prepare(&mut self) -> io::Result<()> {
        self.set_read_timeout(Some(Duration::from_millis(100)))
    }
}

impl ReadTimeout for serialport::TTYPort {
    fn prepare(&mut self) -> io::Result<()> {
        serialport::SerialPort::set_timeout(self, Duration::from_millis(100))
            .map_err(io::Error::from)
    }
}

fn spawn_reader(
    mut src: Box<dyn ReadTimeout>,
    stop: Arc<AtomicBool>,
) -> (Receiver<Chunk>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        if let Err(e) = src.prepare() {
            let _ = tx.send(Chunk::Closed(format!("cannot set read timeout: {e}")));
            return;
        }
        let mut buf = [0u8; 4096];
        while !stop.load(Ordering::Relaxed) {
            match src.read(&mut buf) {
                Ok(0) => {
                    let _ = tx.send(Chunk::Closed("end of stream".into()));
                    return;
                }
                Ok(n) => {
                    if tx.send(Chunk::Data(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    let _ = tx.send(Chunk::Closed(e.to_string()));
                    return;
                }
            }
        }
    });
    (rx, handle)
}

impl Console {
    fn new(
        writer: Box<dyn Write + Send>,
        reader: Box<dyn ReadTimeout>,
        description: String,
    ) -> Console {
        let stop = Arc::new(AtomicBool::new(false));
        let (rx, handle) = spawn_reader(reader, stop.clone());
        Console {
            writer,
            rx,
            stop,
            reader: Some(handle),
            buf: Vec::new(),
            cursor: 0,
            log: None,
            state: LinkState::Open,
            last_rx: Instant::now(),
            description,
        }
    }

    /// Opens a serial device (8N1, no flow control).
    pub fn serial(path: &str, baud: u32) -> Result<Console, ConsoleError> {
        let err = |source| ConsoleError::Serial {
            path: path.to_string(),
            baud,
            source,
        };
        let port = serialport::new(path, baud)
            .timeout(Duration::from_millis(100))
            .open_native()
            .map_err(err)?;
        let reader = port.try_clone_native().map_err(err)?;
        Ok(Console::new(
            Box::new(port),
            Box::new(reader),
            format!("serial {path} @ {baud}"),
        ))
    }

    /// Connects to a raw TCP console (ser2net `raw`, labgrid, QEMU `-serial tcp:`).
    pub fn tcp(addr: &str, timeout: Duration) -> Result<Console, ConsoleError> {
        let err = |source| ConsoleError::Tcp {
            addr: addr.to_string(),
            source,
        };
        let mut last = io::Error::new(io::ErrorKind::NotFound, "address resolves to nothing");
        for sa in addr.to_socket_addrs().map_err(err)? {
            match TcpStream::connect_timeout(&sa, timeout) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    let reader = stream.try_clone().map_err(err)?;
                    return Ok(Console::new(
                        Box::new(stream),
                        Box::new(reader),
                        format!("tcp {addr}"),
                    ));
                }
                Err(e) => last = e,
            }
        }
        Err(err(last))
    }

    /// Connects to a Unix socket (QEMU `-chardev socket,server=on`).
    pub fn unix(path: &Path) -> Result<Console, ConsoleError> {
        let err = |source| ConsoleError::Socket {
            path: path.to_owned(),
            source,
        };
        let stream = UnixStream::connect(path).map_err(err)?;
        let reader = stream.try_clone().map_err(err)?;
        Ok(Console::new(
            Box::new(stream),
            Box::new(reader),
            format!("unix socket {}", path.display()),
        ))
    }

    /// Logs every received byte (including what was received before) to `path`.
    pub fn log_to(&mut self, path: &Path) -> Result<(), ConsoleError> {
        let err = |source| ConsoleError::Log {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut f = File::create(path).map_err(err)?;
        f.write_all(&self.buf).map_err(err)?;
        self.log = Some((f, path.to_owned()));
        Ok(())
    }

    /// Path of the raw log, if logging.
    pub fn log_path(&self) -> Option<&Path> {
        self.log.as_ref().map(|(_, p)| p.as_path())
    }

    /// Link state.
    pub fn state(&self) -> &LinkState {
        &self.state
    }

    /// Time since the last byte was received.
    pub fn quiet_for(&self) -> Duration {
        self.last_rx.elapsed()
    }

    /// Sends bytes.
    pub fn send(&mut self, data: &[u8]) -> Result<(), ConsoleError> {
        self.writer.write_all(data).map_err(ConsoleError::Write)?;
        self.writer.flush().map_err(ConsoleError::Write)
    }

    /// Sends a line (LF-terminated).
    pub fn send_line(&mut self, line: &str) -> Result<(), ConsoleError> {
        let mut data = line.as_bytes().to_vec();
        data.push(b'\n');
        self.send(&data)
    }

    fn take(&mut self, chunk: Chunk) {
        match chunk {
            Chunk::Data(d) => {
                if let Some((f, _)) = &mut self.log {
                    let _ = f.write_all(&d);
                }
                self.buf.extend_from_slice(&d);
                self.last_rx = Instant::now();
            }
            Chunk::Closed(why) => self.state = LinkState::Closed(why),
        }
    }

    /// Receives for at most `timeout` (returns early once something arrived).
    pub fn pump(&mut self, timeout: Duration) {
        if self.state != LinkState::Open {
            std::thread::sleep(timeout.min(Duration::from_millis(50)));
            return;
        }
        match self.rx.recv_timeout(timeout) {
            Ok(c) => {
                self.take(c);
                while let Ok(c) = self.rx.try_recv() {
                    self.take(c);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                if self.state == LinkState::Open {
                    self.state = LinkState::Closed("reader stopped".into());
                }
            }
        }
    }

    /// Keeps receiving until the console was silent for `quiet` or `max` has passed (to get
    /// the rest of a panic message and its stack trace into the buffer and the log).
    pub fn settle(&mut self, quiet: Duration, max: Duration) {
        let start = Instant::now();
        while self.state == LinkState::Open && start.elapsed() < max && self.quiet_for() < quiet {
            self.pump(Duration::from_millis(50));
        }
    }

    /// Index into `patterns` of the first one found after the cursor, and where it ends.
    pub fn find_any(&self, patterns: &[&str]) -> Option<(usize, usize)> {
        patterns
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                find(&self.buf, p.as_bytes(), self.cursor).map(|at| (at, i, at + p.len()))
            })
            .min()
            .map(|(_, i, end)| (i, end))
    }

    /// Waits until one of `patterns` appears after the cursor; moves the cursor past it and
    /// returns its index. `on_idle` is called when nothing arrived for a while (to poke).
    pub fn wait_for(
        &mut self,
        patterns: &[&str],
        timeout: Duration,
        mut on_idle: impl FnMut(&mut Console),
    ) -> Result<usize, WaitError> {
        let start = Instant::now();
        let start_len = self.buf.len();
        loop {
            if let Some((i, end)) = self.find_any(patterns) {
                self.cursor = end;
                return Ok(i);
            }
            if let LinkState::Closed(why) = &self.state {
                return Err(WaitError::Closed(why.clone()));
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(WaitError::Timeout {
                    waited: start.elapsed(),
                    received: self.buf.len() - start_len,
                });
            }
            self.pump(left.min(Duration::from_millis(200)));
            on_idle(self);
        }
    }

    /// The last lines received, printable, for error messages.
    pub fn tail(&self, lines: usize) -> String {
        tail(&self.buf, lines)
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
        if let Some((f, _)) = &mut self.log {
            let _ = f.flush();
        }
    }
}
