//! Copying a file to the board over its console (`--push LOCAL:REMOTE`), for a deploy loop
//! without reflashing: a rebuilt module or tool goes to the running board in seconds.
//!
//! The file is compressed (gzip, `flate2`), encoded (base64, the standard alphabet: no quote,
//! no space, no `_`, nothing the shell, the console framing or the kernel-line filter could
//! take for something else) and sent as framed commands, each one short line:
//!
//! ```text
//! mkdir -p '<dir>' && rm -f '<remote>.part' && : >'<remote>.b64'
//! printf %s '<up to ~800 base64 characters>' >>'<remote>.b64'        (as often as needed)
//! base64 -d '<remote>.b64' | gunzip -c >'<remote>.part'
//! sha256sum '<remote>.part'                                            (compared with ours)
//! if [ -d '<remote>' ]; then ... false; else chmod 0644 '<remote>.part' && mv -f '<remote>.part' '<remote>'; fi
//! rm -f '<remote>.b64' '<remote>.part'
//! ```
//!
//! so the file only appears under its name, with the local file's permission bits, once its
//! SHA-256 on the board equals the local one. The applets used (`mkdir`, `rm`, `printf`,
//! `base64`, `gunzip`, `sha256sum`, `chmod`, `mv`) are all in the board's busybox.
//!
//! Every line stays within [`MAX_LINE`] bytes, framing included: busybox ash edits the command
//! line in a buffer of `CONFIG_FEATURE_EDITING_MAX_LEN` (1024 by default) and silently drops
//! what is typed beyond it, well before the tty's own 4095-byte canonical-mode limit.

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

use crate::protocol::{frame, printable, shell_quote};
use crate::session::{CmdResult, Session};

/// The longest line (without its newline) a push sends, framing markers included. busybox
/// ash's line editor keeps at most `CONFIG_FEATURE_EDITING_MAX_LEN - 2` (1022 by default)
/// characters of a line and drops the rest.
pub const MAX_LINE: usize = 1000;

/// The fewest base64 characters a chunk command must carry; a REMOTE so long that less room
/// is left is refused (it would take too many commands and leaves no margin).
pub const MIN_CHUNK: usize = 256;

/// Suffix of the base64 text while it is collected on the board.
pub const B64_SUFFIX: &str = ".b64";
/// Suffix of the decoded file until its hash is checked and it is moved into place.
pub const PART_SUFFIX: &str = ".part";

/// A nonce as long as the session's (see [`crate::session::new_nonce`]: 10 hex digits) and the
/// largest command number: the longest framing a command can get.
const WORST_NONCE: &str = "ffffffffff";

/// A `--push LOCAL:REMOTE` that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// No `:` before an absolute REMOTE.
    #[error("{0:?}: expected LOCAL:REMOTE with REMOTE an absolute path on the board, e.g. out/rpibsp-led.ko:/lib/modules/extra/rpibsp-led.ko")]
    Syntax(String),
    /// REMOTE does not start with `/`.
    #[error("remote path {0:?} is not absolute")]
    NotAbsolute(String),
    /// REMOTE names a directory (ends in `/`, `.` or `..`).
    #[error("remote path {0:?} names a directory: give the file's full path on the board")]
    Directory(String),
    /// REMOTE has a control character (newline, tab, ...), which one console line cannot carry.
    #[error("remote path {0:?} contains a control character")]
    ControlCharacter(String),
    /// REMOTE is too long to leave room for the data in a console line.
    #[error("remote path {path:?} is too long ({len} bytes): the commands must stay within {MAX_LINE} bytes per console line")]
    TooLong {
        /// The path.
        path: String,
        /// Its length in bytes.
        len: usize,
    },
}

/// One file to copy to the board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushSpec {
    /// The file on this machine.
    pub local: PathBuf,
    /// Absolute path on the board.
    pub remote: String,
}

impl PushSpec {
    /// A push of `local` to `remote` (checked: absolute, a file name, one line, short enough).
    pub fn new(local: impl Into<PathBuf>, remote: impl Into<String>) -> Result<Self, SpecError> {
        let remote = remote.into();
        check_remote(&remote)?;
        Ok(PushSpec {
            local: local.into(),
            remote,
        })
    }

    /// Parses `LOCAL:REMOTE`. The split is at the last `:` followed by `/`, so a LOCAL with a
    /// colon in it works (a REMOTE with `:/` in it does not).
    pub fn parse(arg: &str) -> Result<Self, SpecError> {
        let Some(at) = arg.rfind(":/") else {
            return Err(SpecError::Syntax(arg.to_string()));
        };
        let (local, remote) = (&arg[..at], &arg[at + 1..]);
        if local.is_empty() {
            return Err(SpecError::Syntax(arg.to_string()));
        }
        Self::new(local, remote)
    }

    /// The test case name: `push LOCAL -> REMOTE`.
    pub fn label(&self) -> String {
        format!("push {} -> {}", self.local.display(), self.remote)
    }

    /// The board-side temporary with the base64 text.
    pub fn b64_path(&self) -> String {
        format!("{}{B64_SUFFIX}", self.remote)
    }

    /// The board-side temporary with the decoded file.
    pub fn part_path(&self) -> String {
        format!("{}{PART_SUFFIX}", self.remote)
    }

    /// The directory REMOTE is in (`/` for a file in the root).
    pub fn remote_dir(&self) -> &str {
        match self.remote.rfind('/') {
            Some(0) | None => "/",
            Some(i) => &self.remote[..i],
        }
    }
}

impl FromStr for PushSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn check_remote(remote: &str) -> Result<(), SpecError> {
    if !remote.starts_with('/') {
        return Err(SpecError::NotAbsolute(remote.to_string()));
    }
    if remote.chars().any(char::is_control) {
        return Err(SpecError::ControlCharacter(remote.to_string()));
    }
    let last = remote.rsplit('/').next().unwrap_or("");
    if matches!(last, "" | "." | "..") {
        return Err(SpecError::Directory(remote.to_string()));
    }
    let spec = PushSpec {
        local: PathBuf::new(),
        remote: remote.to_string(),
    };
    let too_long = || SpecError::TooLong {
        path: remote.to_string(),
        len: remote.len(),
    };
    let room = chunk_room(&spec).ok_or_else(too_long)?;
    let others = [
        prepare_command(&spec),
        decode_command(&spec),
        hash_command(&spec),
        install_command(&spec, 0o7777),
        cleanup_command(&spec),
    ];
    if room < MIN_CHUNK || others.iter().any(|c| framed_len(c) > MAX_LINE) {
        return Err(too_long());
    }
    Ok(())
}

/// Length of the longest line [`crate::protocol::frame`] can make of `cmd` in a session.
pub fn framed_len(cmd: &str) -> usize {
    frame(cmd, WORST_NONCE, u32::MAX).len()
}

/// Base64 characters that fit into one chunk command, a multiple of 4 (so every chunk but the
/// last is whole base64 quanta); `None` when not even the command without data fits.
fn chunk_room(spec: &PushSpec) -> Option<usize> {
    let overhead = framed_len(&chunk_command(spec, ""));
    MAX_LINE.checked_sub(overhead).map(|room| room / 4 * 4)
}

/// Base64 characters per chunk command for this REMOTE (at least [`MIN_CHUNK`] for a spec
/// made by [`PushSpec::new`]).
pub fn chunk_len(spec: &PushSpec) -> usize {
    chunk_room(spec).unwrap_or(0).max(4)
}

/// Splits `text` into pieces of at most `len` bytes (`len` 0 is taken as 1). Base64 is ASCII,
/// so every cut is at a character boundary; for other text a piece ends early rather than
/// inside a character.
pub fn chunks(text: &str, len: usize) -> Vec<&str> {
    let len = len.max(1);
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = len.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            // A character longer than `len`: take it whole.
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    out
}

/// Creates REMOTE's directory and an empty base64 temporary (and removes a stale `.part`).
pub fn prepare_command(spec: &PushSpec) -> String {
    format!(
        "mkdir -p {} && rm -f {} && : >{}",
        shell_quote(spec.remote_dir()),
        shell_quote(&spec.part_path()),
        shell_quote(&spec.b64_path())
    )
}

/// Appends one piece of base64 text to the temporary.
pub fn chunk_command(spec: &PushSpec, chunk: &str) -> String {
    format!(
        "printf %s {} >>{}",
        shell_quote(chunk),
        shell_quote(&spec.b64_path())
    )
}

/// Decodes and decompresses the temporary into `REMOTE.part`.
pub fn decode_command(spec: &PushSpec) -> String {
    format!(
        "base64 -d {} | gunzip -c >{}",
        shell_quote(&spec.b64_path()),
        shell_quote(&spec.part_path())
    )
}

/// Fetches the gzip from the laptop over the network and unpacks it into `REMOTE.part`.
/// (busybox ash has no pipefail: a failed fetch shows as a wrong SHA-256 afterwards.)
pub fn fetch_command(spec: &PushSpec, url: &str) -> String {
    format!(
        "mkdir -p {} && rm -f {} && wget -q -O - {} | gunzip -c >{}",
        shell_quote(spec.remote_dir()),
        shell_quote(&spec.part_path()),
        shell_quote(url),
        shell_quote(&spec.part_path())
    )
}

/// Prints the SHA-256 of `REMOTE.part`.
pub fn hash_command(spec: &PushSpec) -> String {
    format!("sha256sum {}", shell_quote(&spec.part_path()))
}

/// Sets the permission bits (octal) and moves `REMOTE.part` into place, unless REMOTE is a
/// directory on the board (`mv` would put the file inside it).
pub fn install_command(spec: &PushSpec, mode: u32) -> String {
    let remote = shell_quote(&spec.remote);
    let part = shell_quote(&spec.part_path());
    format!(
        "if [ -d {remote} ]; then echo {remote} is a directory >&2; false; \
         else chmod {:04o} {part} && mv -f {part} {remote}; fi",
        mode & 0o7777
    )
}

/// Prints the SHA-256 of REMOTE when it is a regular file with the permission bits `mode`
/// (nothing otherwise): a file already on the board as it would be pushed is not sent again.
pub fn current_command(spec: &PushSpec, mode: u32) -> String {
    let remote = shell_quote(&spec.remote);
    format!(
        "if [ -f {remote} ] && [ \"$(stat -c %a {remote})\" = {:o} ]; then sha256sum {remote}; fi",
        mode & 0o7777
    )
}

/// Removes both temporaries (whatever happened).
pub fn cleanup_command(spec: &PushSpec) -> String {
    format!(
        "rm -f {} {}",
        shell_quote(&spec.b64_path()),
        shell_quote(&spec.part_path())
    )
}

/// The SHA-256 (lowercase hex) in `sha256sum` output (`<64 hex digits>  <file>`; GNU puts a
/// `\` in front when the name needed escaping). Other lines are passed over.
pub fn parse_sha256sum(output: &str) -> Option<String> {
    output.lines().find_map(|line| {
        let line = line.trim_start();
        let line = line.strip_prefix('\\').unwrap_or(line);
        let word = line.split_whitespace().next()?;
        (word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| word.to_ascii_lowercase())
    })
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A file prepared for sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// Size of the file.
    pub size: u64,
    /// Permission bits of the file (`0o7777` at most).
    pub mode: u32,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
    /// Size of its gzip.
    pub gzip_len: usize,
    /// The gzip, base64 (standard alphabet, padded).
    pub base64: String,
    /// The gzip itself (what `--http-host` serves).
    pub gzip: Vec<u8>,
}

impl Payload {
    /// Compresses and encodes `data`, a file with permission bits `mode`.
    pub fn from_bytes(data: &[u8], mode: u32) -> io::Result<Payload> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(data)?;
        let gzip = gz.finish()?;
        Ok(Payload {
            size: data.len() as u64,
            mode: mode & 0o7777,
            sha256: sha256_hex(data),
            gzip_len: gzip.len(),
            base64: base64::engine::general_purpose::STANDARD.encode(&gzip),
            gzip,
        })
    }

    /// Reads a local file (it must be a regular file) and prepares it.
    pub fn read(path: &Path) -> Result<Payload, PushError> {
        let err = |source| PushError::Local {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(err)?;
        if !meta.is_file() {
            return Err(err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        let data = std::fs::read(path).map_err(err)?;
        Payload::from_bytes(&data, meta.permissions().mode()).map_err(err)
    }
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The local file could not be read (the board was not touched).
    #[error("cannot read {}: {source}", path.display())]
    Local {
        /// The local path.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// A command on the board ended with a non-zero exit status.
    #[error(
        "{step}: `{command}` failed with exit status {status}{}",
        output_suffix(output)
    )]
    Command {
        /// What the command was for.
        step: &'static str,
        /// The command.
        command: String,
        /// Its exit status.
        status: i32,
        /// Its output (the last lines, printable).
        output: String,
    },
    /// A command did not come back (timeout, console closed, kernel panic): the shell must be
    /// recovered before anything else is sent.
    #[error("{step}: `{command}`: {error}")]
    NoStatus {
        /// What the command was for.
        step: &'static str,
        /// The command (a chunk command is shortened).
        command: String,
        /// Why there is no exit status.
        error: String,
    },
    /// `sha256sum` printed no hash.
    #[error("checking: `{command}` printed no SHA-256{}", output_suffix(output))]
    NoHash {
        /// The command.
        command: String,
        /// Its output.
        output: String,
    },
    /// The board's copy differs from the local file.
    #[error("SHA-256 mismatch: the copy on the board has {board}, the local file {local}; the file was not installed")]
    HashMismatch {
        /// SHA-256 on the board.
        board: String,
        /// SHA-256 of the local file.
        local: String,
    },
    /// A command would not fit into one console line (cannot happen for a [`PushSpec::new`]).
    #[error("{step}: a command of {len} bytes exceeds the console line limit of {MAX_LINE} bytes")]
    LineTooLong {
        /// What the command was for.
        step: &'static str,
        /// Its framed length.
        len: usize,
    },
}

impl PushError {
    /// The shell did not answer: [`Session::recover`] it before [`cleanup`].
    pub fn needs_recovery(&self) -> bool {
        matches!(self, PushError::NoStatus { .. })
    }

    /// Whether anything was sent to the board (and temporaries may be left there).
    pub fn touched_board(&self) -> bool {
        !matches!(self, PushError::Local { .. })
    }
}

fn output_suffix(output: &str) -> String {
    if output.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", output.trim())
    }
}

/// The last lines of a command's output, printable, for messages.
fn output_tail(output: &str) -> String {
    let text = printable(output);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// What a successful push did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushReport {
    /// Size of the file.
    pub size: u64,
    /// Size of its gzip.
    pub gzip_len: usize,
    /// Base64 characters sent (the data on the wire).
    pub sent: usize,
    /// Bytes written to the console in all (command lines and their framing).
    pub line_bytes: u64,
    /// Commands run on the board.
    pub commands: usize,
    /// Permission bits set on the board.
    pub mode: u32,
    /// SHA-256 of the file (equal on both sides).
    pub sha256: String,
    /// Wall time.
    pub duration: Duration,
    /// The board had the file already (same SHA-256 and permission bits): nothing was sent.
    pub unchanged: bool,
    /// Fetched by the board over the network from this URL instead of sent over the console.
    pub url: Option<String>,
}

impl PushReport {
    /// One line for people: sizes, commands, time and rate.
    pub fn summary(&self) -> String {
        let secs = self.duration.as_secs_f64().max(0.001);
        if let (Some(url), false) = (&self.url, self.unchanged) {
            return format!(
                "{} bytes (mode {:04o}) fetched by the board as a {}-byte gzip from {url}, in \
                 {:.1} s ({:.1} KiB/s of file); sha256 {}",
                self.size,
                self.mode,
                self.gzip_len,
                self.duration.as_secs_f64(),
                self.size as f64 / 1024.0 / secs,
                self.sha256
            );
        }
        if self.unchanged {
            return format!(
                "{} bytes (mode {:04o}) already on the board (same SHA-256): not sent, {:.1} s; \
                 sha256 {}",
                self.size,
                self.mode,
                self.duration.as_secs_f64(),
                self.sha256
            );
        }
        format!(
            "{} bytes (mode {:04o}) sent as {} bytes of base64 of a {}-byte gzip, {} commands, \
             {} bytes sent in all, in {:.1} s ({:.1} KiB/s of file); sha256 {}",
            self.size,
            self.mode,
            self.sent,
            self.gzip_len,
            self.commands,
            self.line_bytes,
            self.duration.as_secs_f64(),
            self.size as f64 / 1024.0 / secs,
            self.sha256
        )
    }
}

/// The end of every push: `REMOTE.part` on the board must have the file's SHA-256; then it gets
/// the file's mode and replaces REMOTE, and the temporaries go.
fn check_and_install(
    run: &mut Runner<'_, '_>,
    spec: &PushSpec,
    payload: &Payload,
) -> Result<(), PushError> {
    let hash_cmd = hash_command(spec);
    let r = run.run("checking", &hash_cmd)?;
    let Some(board) = parse_sha256sum(&r.output) else {
        return Err(PushError::NoHash {
            command: hash_cmd,
            output: output_tail(&r.output),
        });
    };
    if board != payload.sha256 {
        return Err(PushError::HashMismatch {
            board,
            local: payload.sha256.clone(),
        });
    }
    run.run("installing", &install_command(spec, payload.mode))?;
    run.run("cleaning up", &cleanup_command(spec))?;
    Ok(())
}

struct Runner<'s, 'c> {
    session: &'s mut Session<'c>,
    timeout: Duration,
    commands: usize,
    start: Instant,
    sent_before: u64,
}

impl<'s, 'c> Runner<'s, 'c> {
    fn new(session: &'s mut Session<'c>, timeout: Duration) -> Self {
        let sent_before = session.console.bytes_sent();
        Runner {
            session,
            timeout,
            commands: 0,
            start: Instant::now(),
            sent_before,
        }
    }

    /// The report of a push of `payload` done so far (`sent`: base64 characters sent).
    fn report(
        &self,
        payload: &Payload,
        sent: usize,
        unchanged: bool,
        url: Option<String>,
    ) -> PushReport {
        PushReport {
            size: payload.size,
            gzip_len: payload.gzip_len,
            sent,
            line_bytes: self.session.console.bytes_sent() - self.sent_before,
            commands: self.commands,
            mode: payload.mode,
            sha256: payload.sha256.clone(),
            duration: self.start.elapsed(),
            unchanged,
            url,
        }
    }

    /// The board has REMOTE already as `payload` would make it (same SHA-256 and mode).
    fn already_there(&mut self, spec: &PushSpec, payload: &Payload) -> Result<bool, PushError> {
        let current = self.run("comparing", &current_command(spec, payload.mode))?;
        Ok(parse_sha256sum(&current.output).as_deref() == Some(payload.sha256.as_str()))
    }

    fn run(&mut self, step: &'static str, cmd: &str) -> Result<CmdResult, PushError> {
        let len = framed_len(cmd);
        if len > MAX_LINE {
            return Err(PushError::LineTooLong { step, len });
        }
        self.commands += 1;
        let r = self.session.run(cmd, self.timeout);
        let shown = || {
            if cmd.len() > 120 {
                let cut = (0..=100)
                    .rev()
                    .find(|&i| cmd.is_char_boundary(i))
                    .unwrap_or(0);
                format!("{}...", &cmd[..cut])
            } else {
                cmd.to_string()
            }
        };
        match (r.status, &r.error) {
            (Some(0), _) => Ok(r),
            (Some(status), _) => Err(PushError::Command {
                step,
                command: shown(),
                status,
                output: output_tail(&r.output),
            }),
            (None, e) => Err(PushError::NoStatus {
                step,
                command: shown(),
                error: e.clone().unwrap_or_else(|| "no exit status".into()),
            }),
        }
    }
}

/// Copies `spec.local` to `spec.remote` on the board through `session`, each command with
/// `timeout`. `progress` gets a line now and then for a long transfer.
///
/// On failure temporaries may be left on the board: when [`PushError::touched_board`], run
/// [`cleanup`] (after [`Session::recover`] when [`PushError::needs_recovery`]). On success
/// nothing is left but the file.
pub fn push(
    session: &mut Session<'_>,
    spec: &PushSpec,
    timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<PushReport, PushError> {
    let start = Instant::now();
    let payload = Payload::read(&spec.local)?;
    push_payload(session, spec, &payload, timeout, progress).map(|mut r| {
        r.duration = start.elapsed();
        r
    })
}

/// [`push`] of data already prepared (see [`Payload::from_bytes`]).
pub fn push_payload(
    session: &mut Session<'_>,
    spec: &PushSpec,
    payload: &Payload,
    timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<PushReport, PushError> {
    let mut run = Runner::new(session, timeout);
    if run.already_there(spec, payload)? {
        return Ok(run.report(payload, 0, true, None));
    }
    run.run("preparing", &prepare_command(spec))?;
    let pieces = chunks(&payload.base64, chunk_len(spec));
    let total = pieces.len();
    let mut next_report = 1;
    for (i, piece) in pieces.iter().enumerate() {
        run.run("sending", &chunk_command(spec, piece))?;
        // A line at every quarter of a transfer of more than a few commands.
        if total >= 16 && (i + 1) * 4 >= next_report * total && next_report < 4 {
            progress(&format!(
                "  {}%: {} of {} chunks sent, {:.1} s",
                next_report * 25,
                i + 1,
                total,
                run.start.elapsed().as_secs_f64()
            ));
            next_report += 1;
        }
    }
    run.run("unpacking", &decode_command(spec))?;
    check_and_install(&mut run, spec, payload)?;
    Ok(run.report(payload, payload.base64.len(), false, None))
}

/// [`push`] over the network: `server` (on the laptop) serves the file's gzip, the board fetches
/// it with `wget` from `http://HOST:PORT/...` (`host`: the laptop's address as the board reaches
/// it), then the SHA-256 check and the installation are those of the console push.
pub fn push_http(
    session: &mut Session<'_>,
    spec: &PushSpec,
    server: &crate::http::FileServer,
    host: &str,
    timeout: Duration,
) -> Result<PushReport, PushError> {
    let payload = Payload::read(&spec.local)?;
    let mut run = Runner::new(session, timeout);
    if run.already_there(spec, &payload)? {
        return Ok(run.report(&payload, 0, true, None));
    }
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let url = format!(
        "http://{host}:{}{}",
        server.port(),
        server.add(payload.gzip.clone())
    );
    run.run("fetching", &fetch_command(spec, &url))?;
    check_and_install(&mut run, spec, &payload)?;
    Ok(run.report(&payload, 0, false, Some(url)))
}

/// Removes the temporaries of a push (`REMOTE.b64`, `REMOTE.part`) after a failure.
pub fn cleanup(
    session: &mut Session<'_>,
    spec: &PushSpec,
    timeout: Duration,
) -> Result<(), PushError> {
    Runner::new(session, timeout)
        .run("cleaning up", &cleanup_command(spec))
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn spec(remote: &str) -> PushSpec {
        PushSpec::new("out/m.ko", remote).expect("valid spec")
    }

    /// Deterministic pseudo-random bytes (xorshift), incompressible.
    fn noise(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn specs_are_split_at_the_last_colon_before_an_absolute_path() {
        let s = PushSpec::parse("out/rpibsp-led.ko:/lib/modules/extra/rpibsp-led.ko").unwrap();
        assert_eq!(s.local, PathBuf::from("out/rpibsp-led.ko"));
        assert_eq!(s.remote, "/lib/modules/extra/rpibsp-led.ko");
        assert_eq!(s.remote_dir(), "/lib/modules/extra");
        assert_eq!(
            s.label(),
            "push out/rpibsp-led.ko -> /lib/modules/extra/rpibsp-led.ko"
        );
        let s: PushSpec = "build:x/a:b:/tmp/f".parse().unwrap();
        assert_eq!(s.local, PathBuf::from("build:x/a:b"));
        assert_eq!(s.remote, "/tmp/f");
        assert_eq!(spec("/f").remote_dir(), "/");
        assert_eq!(s.b64_path(), "/tmp/f.b64");
        assert_eq!(s.part_path(), "/tmp/f.part");
    }

    #[test]
    fn bad_specs_are_refused_with_the_reason() {
        for (arg, want) in [
            ("nocolon", "expected LOCAL:REMOTE"),
            ("a.ko:relative/x", "expected LOCAL:REMOTE"),
            (":/tmp/x", "expected LOCAL:REMOTE"),
            ("a.ko:/tmp/dir/", "names a directory"),
            ("a.ko:/", "names a directory"),
            ("a.ko:/tmp/..", "names a directory"),
            ("a.ko:/tmp/a\nb", "control character"),
        ] {
            let e = PushSpec::parse(arg).unwrap_err().to_string();
            assert!(e.contains(want), "{arg:?}: {e}");
        }
        assert!(matches!(
            PushSpec::new("a", "x"),
            Err(SpecError::NotAbsolute(_))
        ));
        let long = format!("/{}", "d".repeat(700));
        assert!(matches!(
            PushSpec::new("a", long.as_str()),
            Err(SpecError::TooLong { .. })
        ));
    }

    #[test]
    fn every_command_fits_the_line_limit_and_chunks_are_big_enough() {
        // The longest REMOTE accepted, and one with quotes (which grow when quoted twice).
        let mut longest = String::from("/");
        while PushSpec::new("a", format!("{longest}x")).is_ok() {
            longest.push('x');
        }
        let quoted = "/tmp/it's a \"file\" $(x) `y`.ko";
        for remote in ["/m.ko", quoted, longest.as_str()] {
            let s = spec(remote);
            let n = chunk_len(&s);
            assert!(n >= MIN_CHUNK, "{remote}: {n}");
            assert_eq!(n % 4, 0);
            let full = "A".repeat(n);
            assert!(framed_len(&chunk_command(&s, &full)) <= MAX_LINE);
            assert!(
                framed_len(&chunk_command(&s, &format!("{full}AAAA"))) > MAX_LINE,
                "{remote}: room wasted"
            );
            for c in [
                prepare_command(&s),
                decode_command(&s),
                hash_command(&s),
                install_command(&s, 0o4755),
                cleanup_command(&s),
            ] {
                assert!(framed_len(&c) <= MAX_LINE, "{c}");
                assert!(!c.contains('\n'));
            }
        }
        // A short path leaves room for most of a line.
        assert!(chunk_len(&spec("/lib/modules/extra/rpibsp-led.ko")) >= 800);
        // The worst-case framing is what a session uses.
        assert_eq!(crate::session::new_nonce().len(), WORST_NONCE.len());
    }

    #[test]
    fn chunks_cover_the_text_in_order() {
        let text: String = ('a'..='z').cycle().take(1001).collect();
        let parts = chunks(&text, 100);
        assert_eq!(parts.len(), 11);
        assert!(parts[..10].iter().all(|p| p.len() == 100));
        assert_eq!(parts[10].len(), 1);
        assert_eq!(parts.concat(), text);
        assert!(chunks("", 100).is_empty());
        assert_eq!(chunks("abc", 0), vec!["a", "b", "c"]);
        // Never inside a character.
        assert_eq!(chunks("äöü", 3), vec!["ä", "ö", "ü"]);
        assert_eq!(chunks("ä", 1), vec!["ä"]);
    }

    #[test]
    fn payload_round_trips_and_base64_needs_no_quoting() {
        for data in [Vec::new(), b"hello\n".to_vec(), noise(100_000, 7)] {
            let p = Payload::from_bytes(&data, 0o100755).unwrap();
            assert_eq!(p.mode, 0o755);
            assert_eq!(p.size, data.len() as u64);
            assert_eq!(p.sha256, sha256_hex(&data));
            assert!(p
                .base64
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)));
            assert!(!p.base64.contains('\''));
            // So the chunk command quotes it with exactly one pair of quotes.
            let s = spec("/tmp/m.ko");
            for piece in chunks(&p.base64, chunk_len(&s)) {
                let c = chunk_command(&s, piece);
                assert_eq!(c, format!("printf %s '{piece}' >>'/tmp/m.ko.b64'"));
            }
            let gz = base64::engine::general_purpose::STANDARD
                .decode(&p.base64)
                .unwrap();
            assert_eq!(gz.len(), p.gzip_len);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data);
        }
        // Compression pays for the base64 on text-like files.
        let text = b"rpibsp kernel module symbol table\n".repeat(2000);
        let p = Payload::from_bytes(&text, 0o644).unwrap();
        assert!(p.base64.len() * 10 < text.len(), "{}", p.base64.len());
    }

    #[test]
    fn sha256_of_known_vectors() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn sha256sum_output_is_parsed() {
        let h = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        // GNU coreutils and busybox.
        assert_eq!(
            parse_sha256sum(&format!("{h}  /lib/m.ko.part\n")),
            Some(h.into())
        );
        // Upper case, a name needing escapes (GNU), noise before it.
        assert_eq!(
            parse_sha256sum(&format!(
                "some warning\n\\{}  /tmp/a\\nb.part\n",
                h.to_uppercase()
            )),
            Some(h.into())
        );
        for bad in [
            "",
            "sha256sum: /x.part: No such file or directory\n",
            &format!("{}  /x\n", &h[..63]),
            &format!("{}g  /x\n", &h[..63]),
            &format!("{h}0  /x\n"),
        ] {
            assert_eq!(parse_sha256sum(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn commands_quote_every_path() {
        let s = spec("/tmp/it's here/m.ko");
        assert_eq!(
            prepare_command(&s),
            r"mkdir -p '/tmp/it'\''s here' && rm -f '/tmp/it'\''s here/m.ko.part' && : >'/tmp/it'\''s here/m.ko.b64'"
        );
        assert_eq!(
            decode_command(&s),
            r"base64 -d '/tmp/it'\''s here/m.ko.b64' | gunzip -c >'/tmp/it'\''s here/m.ko.part'"
        );
        assert_eq!(
            install_command(&spec("/m"), 0o100644),
            "if [ -d '/m' ]; then echo '/m' is a directory >&2; false; \
             else chmod 0644 '/m.part' && mv -f '/m.part' '/m'; fi"
        );
        assert_eq!(cleanup_command(&spec("/m")), "rm -f '/m.b64' '/m.part'");
        assert_eq!(hash_command(&spec("/m")), "sha256sum '/m.part'");
    }

    #[test]
    fn the_commands_work_in_a_real_shell() {
        // The generated commands, run by /bin/sh in a scratch directory, copy the file.
        let dir = tempfile::tempdir().unwrap();
        let remote = dir.path().join("new dir/it's.ko");
        let s = spec(remote.to_str().unwrap());
        let data = noise(20_000, 3);
        let p = Payload::from_bytes(&data, 0o640).unwrap();
        let mut script = vec![prepare_command(&s)];
        for piece in chunks(&p.base64, chunk_len(&s)) {
            script.push(chunk_command(&s, piece));
        }
        script.push(decode_command(&s));
        script.push(hash_command(&s));
        script.push(install_command(&s, p.mode));
        script.push(cleanup_command(&s));
        let mut hashes = String::new();
        for line in &script {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(line)
                .output()
                .unwrap();
            assert!(out.status.success(), "{line}: {out:?}");
            hashes.push_str(&String::from_utf8_lossy(&out.stdout));
        }
        assert_eq!(parse_sha256sum(&hashes), Some(p.sha256.clone()));
        assert_eq!(std::fs::read(&remote).unwrap(), data);
        let mode = std::fs::metadata(&remote).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o640);
        let left: Vec<_> = std::fs::read_dir(remote.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("it's.ko")]);
    }

    #[test]
    fn a_missing_local_file_is_a_local_error() {
        let e = Payload::read(Path::new("/nonexistent/rpibsp.ko")).unwrap_err();
        assert!(!e.touched_board());
        assert!(e.to_string().contains("/nonexistent/rpibsp.ko"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = Payload::read(dir.path()).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}
