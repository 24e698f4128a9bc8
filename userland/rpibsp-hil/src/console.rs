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
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::protocol::{find, tail};
use crate::rfc2217::{self, Telnet, IAC};

/// How a TCP console is spoken to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TcpMode {
    /// RFC 2217 if the server starts telnet negotiation within [`AUTO_WAIT`] (ser2net
    /// `telnet(rfc2217)`, labgrid), otherwise raw; nothing telnet is sent to a raw server.
    #[default]
    Auto,
    /// Telnet with COM-PORT-OPTION (RFC 2217); fails when the server does not negotiate.
    Rfc2217,
    /// Plain bytes (ser2net `raw`, QEMU `-serial tcp:`).
    Raw,
}

/// How long `auto` waits for the server's telnet negotiation before taking the console as raw.
pub const AUTO_WAIT: Duration = Duration::from_secs(2);
/// How long `rfc2217` waits for an answer to its negotiation.
pub const RFC2217_WAIT: Duration = Duration::from_secs(3);
/// How long the negotiation may take once the server spoke telnet.
const SETTLE_WAIT: Duration = Duration::from_secs(2);

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
    /// `--tcp-mode rfc2217` against a server that does not negotiate telnet.
    #[error("console {addr}: the server does not speak RFC 2217 ({why}): use --tcp-mode raw")]
    NotRfc2217 {
        /// host:port.
        addr: String,
        /// What was seen.
        why: String,
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

/// The telnet state and the sending half, shared by the reader thread (which answers the
/// server's negotiation) and the writer.
struct Shared {
    telnet: Telnet,
    out: TcpStream,
}

struct TelnetWriter(Arc<Mutex<Shared>>);

impl Write for TelnetWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let wire = s.telnet.encode(data);
        s.out.write_all(&wire)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).out.flush()
    }
}

struct TelnetReader {
    stream: TcpStream,
    shared: Arc<Mutex<Shared>>,
}

impl Read for TelnetReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // Decoding never makes data longer, so what is read fits into `out`.
        let mut raw = vec![0u8; out.len().min(4096)];
        let n = self.stream.read(&mut raw)?;
        if n == 0 {
            return Ok(0);
        }
        let mut data = Vec::with_capacity(n);
        let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        let reply = s.telnet.receive(&raw[..n], &mut data);
        if !reply.is_empty() {
            s.out.write_all(&reply)?;
        }
        drop(s);
        if data.is_empty() {
            // Only telnet commands: not the end of the stream.
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "telnet only"));
        }
        out[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }
}

impl ReadTimeout for TelnetReader {
    fn prepare(&mut self) -> io::Result<()> {
        self.stream
            .set_read_timeout(Some(Duration::from_millis(100)))
    }
}

/// Printable start of some bytes, for messages.
fn preview(data: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(&data[..data.len().min(40)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    format!("{text:?}")
}

/// What a handshake found: the telnet state (None: raw), console data received meanwhile, and
/// a note for the report.
type Handshake = (Option<Telnet>, Vec<u8>, Option<String>);

/// Finds out (auto) or insists (rfc2217) whether the server speaks telnet, and negotiates.
fn handshake(addr: &str, stream: &TcpStream, mode: TcpMode) -> Result<Handshake, ConsoleError> {
    if mode == TcpMode::Raw {
        return Ok((None, Vec::new(), None));
    }
    let io_err = |source| ConsoleError::Tcp {
        addr: addr.to_string(),
        source,
    };
    let not = |why: String| ConsoleError::NotRfc2217 {
        addr: addr.to_string(),
        why,
    };
    let mut s = stream;
    let mut telnet = Telnet::default();
    if mode == TcpMode::Rfc2217 {
        s.write_all(&telnet.start()).map_err(io_err)?;
    }
    let wait = if mode == TcpMode::Auto {
        AUTO_WAIT
    } else {
        RFC2217_WAIT
    };
    s.set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(io_err)?;
    let start = Instant::now();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    // 1. The first bytes: telnet or not.
    let first = loop {
        match s.read(&mut buf) {
            Ok(0) => {
                if mode == TcpMode::Rfc2217 {
                    return Err(not("it closed the connection without negotiating".into()));
                }
                return Ok((None, Vec::new(), None)); // the reader reports the close
            }
            Ok(n) => break n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(io_err(e)),
        }
        if start.elapsed() >= wait {
            let secs = wait.as_secs_f64();
            if mode == TcpMode::Rfc2217 {
                return Err(not(format!("no telnet negotiation within {secs:.0} s")));
            }
            return Ok((
                None,
                Vec::new(),
                Some(format!(
                    "tcp {addr}: no telnet negotiation from the server within {secs:.0} s: raw TCP (--tcp-mode rfc2217 to insist)"
                )),
            ));
        }
    };
    if buf[0] != IAC {
        if mode == TcpMode::Rfc2217 {
            return Err(not(format!(
                "it sent console data {} instead of telnet negotiation",
                preview(&buf[..first])
            )));
        }
        return Ok((
            None,
            buf[..first].to_vec(),
            Some(format!(
                "tcp {addr}: the server sent data, no telnet negotiation: raw TCP"
            )),
        ));
    }
    // 2. Telnet: answer, ask for what is still missing, and wait (a little) for the line
    // settings to be confirmed.
    let mut reply = telnet.receive(&buf[..first], &mut data);
    reply.extend(telnet.start());
    s.write_all(&reply).map_err(io_err)?;
    let settle = Instant::now();
    while !telnet.com_port_settled() && settle.elapsed() < SETTLE_WAIT {
        match s.read(&mut buf) {
            Ok(0) => break, // the reader reports the close
            Ok(n) => {
                let reply = telnet.receive(&buf[..n], &mut data);
                s.write_all(&reply).map_err(io_err)?;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    let note = match (telnet.us(rfc2217::COM_PORT), telnet.baud_ack) {
        (rfc2217::Q::Yes, Some(b)) if b == rfc2217::BAUD => None,
        (rfc2217::Q::Yes, Some(b)) => Some(format!(
            "tcp {addr}: RFC 2217: asked for {} baud, the server set {b}",
            rfc2217::BAUD
        )),
        (rfc2217::Q::Yes, None) => Some(format!(
            "tcp {addr}: RFC 2217: the server did not confirm the baud rate"
        )),
        _ => Some(format!(
            "tcp {addr}: telnet without COM-PORT-OPTION (RFC 2217 refused): line settings left to the server"
        )),
    };
    Ok((Some(telnet), data, note))
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
    sent: u64,
    /// What the console is connected to, for messages.
    pub description: String,
    /// Remarks about how the link was set up (for the run's notes).
    pub notes: Vec<String>,
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
            sent: 0,
            description,
            notes: Vec::new(),
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

    /// Connects to a TCP console: raw (ser2net `raw`, QEMU `-serial tcp:`) or telnet with
    /// RFC 2217 (ser2net `telnet(rfc2217)`, labgrid), as `mode` says.
    pub fn tcp(addr: &str, timeout: Duration, mode: TcpMode) -> Result<Console, ConsoleError> {
        let err = |source| ConsoleError::Tcp {
            addr: addr.to_string(),
            source,
        };
        let mut last = io::Error::new(io::ErrorKind::NotFound, "address resolves to nothing");
        for sa in addr.to_socket_addrs().map_err(err)? {
            match TcpStream::connect_timeout(&sa, timeout) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Console::over_tcp(addr, stream, mode);
                }
                Err(e) => last = e,
            }
        }
        Err(err(last))
    }

    fn over_tcp(addr: &str, stream: TcpStream, mode: TcpMode) -> Result<Console, ConsoleError> {
        let err = |source| ConsoleError::Tcp {
            addr: addr.to_string(),
            source,
        };
        let reader = stream.try_clone().map_err(err)?;
        let (telnet, early, note) = handshake(addr, &stream, mode)?;
        let mut console = match telnet {
            None => Console::new(
                Box::new(stream),
                Box::new(reader),
                format!("tcp {addr} (raw)"),
            ),
            Some(telnet) => {
                let line = match telnet.baud_ack {
                    Some(b) => format!("RFC 2217, {b} 8N1"),
                    None => "telnet, line settings not confirmed".to_string(),
                };
                let shared = Arc::new(Mutex::new(Shared {
                    telnet,
                    out: stream,
                }));
                Console::new(
                    Box::new(TelnetWriter(shared.clone())),
                    Box::new(TelnetReader {
                        stream: reader,
                        shared,
                    }),
                    format!("tcp {addr} ({line})"),
                )
            }
        };
        if !early.is_empty() {
            console.buf.extend_from_slice(&early);
            console.last_rx = Instant::now();
        }
        console.notes.extend(note);
        Ok(console)
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
        self.sent += data.len() as u64;
        self.writer.flush().map_err(ConsoleError::Write)
    }

    /// Bytes sent so far (console data, before any telnet escaping).
    pub fn bytes_sent(&self) -> u64 {
        self.sent
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
