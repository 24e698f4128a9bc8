//! The text protocol on the console: command framing with unique markers, recovering the
//! output and exit status, and separating kernel log lines from command output.
//!
//! A command `CMD` is sent as one line:
//!
//! ```text
//! echo __RPIBSP_''BEGIN_<nonce>_<n>__; eval 'CMD' </dev/null; echo __RPIBSP_''END_<nonce>_<n>_$?__
//! ```
//!
//! The `''` makes the echoed input differ from the shell's output, so the markers are only
//! found in what the shell printed; `eval` keeps a syntax error in `CMD` from swallowing the
//! end marker; `</dev/null` keeps a command that reads standard input from eating the next
//! line. The exit status is part of the end marker, a single word.

/// Prefix of every marker.
pub const MARKER: &str = "__RPIBSP_";

/// Quotes `s` for a POSIX shell (single quotes; `'` becomes `'\''`).
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The line that makes the shell print `__RPIBSP_READY_<nonce>__` (handshake).
pub fn ready_line(nonce: &str) -> String {
    format!("echo {MARKER}''READY_{nonce}__")
}

/// What the handshake prints.
pub fn ready_token(nonce: &str) -> String {
    format!("{MARKER}READY_{nonce}__")
}

/// The framed line for command number `n`.
pub fn frame(cmd: &str, nonce: &str, n: u32) -> String {
    format!(
        "echo {MARKER}''BEGIN_{nonce}_{n}__; eval {} </dev/null; echo {MARKER}''END_{nonce}_{n}_$?__",
        shell_quote(cmd)
    )
}

/// Begin marker as printed by the shell.
pub fn begin_token(nonce: &str, n: u32) -> String {
    format!("{MARKER}BEGIN_{nonce}_{n}__")
}

/// Start of the end marker as printed by the shell (the status and `__` follow).
pub fn end_prefix(nonce: &str, n: u32) -> String {
    format!("{MARKER}END_{nonce}_{n}_")
}

/// Finds `needle` in `hay` starting at byte `from` (memchr's `memmem`).
pub fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay.get(from..)?, needle).map(|p| p + from)
}

/// A framed command found complete in the console buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Framed {
    /// Exit status from the end marker.
    pub status: i32,
    /// Raw bytes between the begin marker's line and the end marker.
    pub raw: Vec<u8>,
    /// Byte index just after the end marker.
    pub end: usize,
    /// Byte index where the end marker starts (where the output ends).
    pub output_end: usize,
}

/// Looks for the complete output of command `n` in `buf` (from byte `from`).
pub fn parse_framed(buf: &[u8], nonce: &str, n: u32, from: usize) -> Option<Framed> {
    let begin = begin_token(nonce, n);
    let b = find(buf, begin.as_bytes(), from)? + begin.len();
    let prefix = end_prefix(nonce, n);
    let mut search = b;
    loop {
        let e = find(buf, prefix.as_bytes(), search)?;
        let after = e + prefix.len();
        let digits = buf[after..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        let tail = after + digits;
        if digits > 0 && buf.len() >= tail + 2 && &buf[tail..tail + 2] == b"__" {
            let status = std::str::from_utf8(&buf[after..tail]).ok()?.parse().ok()?;
            // Output starts after the begin marker's line ending.
            let mut start = b;
            while start < e && (buf[start] == b'\r' || buf[start] == b'\n') {
                start += 1;
            }
            return Some(Framed {
                status,
                raw: buf[start..e].to_vec(),
                end: tail + 2,
                output_end: e,
            });
        }
        if digits == 0 || buf.len() >= tail + 2 {
            // Not a valid end marker here (e.g. `$?` unexpanded); keep looking.
            search = after;
            continue;
        }
        return None; // the rest of the marker has not arrived yet
    }
}

/// Byte position of a printk timestamp (`[   12.345678] `) in a line, if any. Works on bytes
/// and returns the position of an ASCII `[`, so slicing the line there is always safe.
pub fn kernel_stamp(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let digits = |from: usize| {
        bytes.get(from..).map_or(0, |rest| {
            rest.iter().take_while(|c| c.is_ascii_digit()).count()
        })
    };
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'[', bytes.get(from..)?) {
        let start = from + p;
        let mut j = start + 1;
        while bytes.get(j) == Some(&b' ') {
            j += 1;
        }
        let d1 = digits(j);
        let k = j + d1;
        if d1 > 0 && bytes.get(k) == Some(&b'.') {
            let d2 = digits(k + 1);
            if d2 >= 3 && bytes.get(k + 1 + d2) == Some(&b']') {
                return Some(start);
            }
        }
        from = start + 1;
    }
    None
}

/// A line of console text, sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsoleLine {
    /// A line of the command's output (a kernel message in its middle taken out).
    Output(String),
    /// A kernel log line (printk timestamp).
    Kernel(String),
}

/// Splits console bytes into command output lines and kernel log lines as they arrive
/// (see [`split_kernel_lines`]): bytes are taken in reads of any size, decoded lossily one
/// complete line at a time (so a read that ends inside a multibyte character changes nothing),
/// carriage returns are dropped, and a line that a kernel message interrupted is joined with
/// its continuation on the next line.
#[derive(Clone, Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    carry: Option<String>,
}

impl LineSplitter {
    /// A splitter at the start of a line.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes received bytes; returns the lines they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<ConsoleLine> {
        let mut lines = Vec::new();
        let mut rest = bytes;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let (head, tail) = rest.split_at(nl);
            rest = &tail[1..];
            self.partial.extend_from_slice(head);
            let line = String::from_utf8_lossy(&self.partial).replace('\r', "");
            self.partial.clear();
            self.line(&line, &mut lines);
        }
        self.partial.extend_from_slice(rest);
        lines
    }

    /// Ends the text: a last line without newline, and the start of a line that a kernel
    /// message interrupted and nothing continued.
    pub fn finish(mut self) -> Vec<ConsoleLine> {
        let mut lines = Vec::new();
        let last = String::from_utf8_lossy(&self.partial).replace('\r', "");
        if !last.is_empty() {
            self.line(&last, &mut lines);
        }
        if let Some(c) = self.carry.take() {
            lines.push(ConsoleLine::Output(c));
        }
        lines
    }

    fn line(&mut self, line: &str, lines: &mut Vec<ConsoleLine>) {
        match kernel_stamp(line) {
            Some(p) => {
                // `p` is the byte position of an ASCII `[`: a char boundary.
                let (before, kernel) = line.split_at(p);
                lines.push(ConsoleLine::Kernel(kernel.to_string()));
                if !before.trim().is_empty() {
                    self.carry.get_or_insert_with(String::new).push_str(before);
                }
            }
            None => {
                let mut full = self.carry.take().unwrap_or_default();
                full.push_str(line);
                lines.push(ConsoleLine::Output(full));
            }
        }
    }
}

/// Splits console text into command output and kernel log lines.
///
/// Kernel messages (printk timestamps, `CONFIG_PRINTK_TIME`) can land between output lines
/// or in the middle of one: then the part before the timestamp and the next line are joined
/// back together. Carriage returns are dropped.
pub fn split_kernel_lines(raw: &[u8]) -> (String, Vec<String>) {
    let mut splitter = LineSplitter::new();
    let mut lines = splitter.push(raw);
    lines.extend(splitter.finish());
    let mut out = Vec::new();
    let mut kernel = Vec::new();
    for l in lines {
        match l {
            ConsoleLine::Output(o) => out.push(o),
            ConsoleLine::Kernel(k) => kernel.push(k),
        }
    }
    let mut clean = out.join("\n");
    let ends_with_newline = raw.iter().rev().find(|&&b| b != b'\r') == Some(&b'\n');
    if ends_with_newline && !clean.is_empty() {
        clean.push('\n');
    }
    (clean, kernel)
}

/// The output of framed command `n` while it runs: the lines that have arrived completely so
/// far, from the begin marker up to the end marker, split like [`split_kernel_lines`] splits
/// the finished output (the lines of both agree).
#[derive(Clone, Debug)]
pub struct FrameStream {
    begin: String,
    end_prefix: String,
    from: usize,
    fed: Option<usize>,
    started: bool,
    splitter: LineSplitter,
}

impl FrameStream {
    /// Watches for command `n` of session `nonce` from byte `from` of the console buffer on.
    pub fn new(nonce: &str, n: u32, from: usize) -> Self {
        FrameStream {
            begin: begin_token(nonce, n),
            end_prefix: end_prefix(nonce, n),
            from,
            fed: None,
            started: false,
            splitter: LineSplitter::new(),
        }
    }

    /// New complete lines in `buf` (everything received so far; it only grows).
    pub fn poll(&mut self, buf: &[u8]) -> Vec<ConsoleLine> {
        let fed = match self.fed {
            Some(f) => f,
            None => match find(buf, self.begin.as_bytes(), self.from) {
                Some(at) => {
                    let body = at + self.begin.len();
                    self.fed = Some(body);
                    body
                }
                None => return Vec::new(),
            },
        };
        // Up to the end marker if it is there (it never contains a newline), and only whole
        // lines: a line still arriving might be the start of the end marker.
        let limit = find(buf, self.end_prefix.as_bytes(), fed).unwrap_or(buf.len());
        let Some(chunk) = buf.get(fed..limit) else {
            return Vec::new();
        };
        let Some(last_nl) = memchr::memrchr(b'\n', chunk) else {
            return Vec::new();
        };
        self.take(buf, fed, fed + last_nl + 1)
    }

    fn take(&mut self, buf: &[u8], fed: usize, upto: usize) -> Vec<ConsoleLine> {
        let mut chunk = buf.get(fed..upto).unwrap_or_default();
        self.fed = Some(upto);
        if !self.started {
            // As parse_framed: the output starts after the begin marker's line ending(s).
            let skip = chunk
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            chunk = &chunk[skip..];
            if chunk.is_empty() {
                return Vec::new();
            }
            self.started = true;
        }
        self.splitter.push(chunk)
    }

    /// The command ended (`framed` was found in `buf`): the remaining lines of its output.
    pub fn finish(mut self, buf: &[u8], framed: &Framed) -> Vec<ConsoleLine> {
        let mut lines = match self.fed {
            Some(fed) if fed <= framed.output_end => self.take(buf, fed, framed.output_end),
            _ => Vec::new(),
        };
        lines.extend(self.splitter.finish());
        lines
    }
}

/// Removes ANSI escape sequences (with `strip-ansi-escapes`) and other control characters,
/// keeping newlines and tabs (for human summaries).
pub fn printable(text: &str) -> String {
    // The stripper drops tabs: strip between them so they survive (no escape sequence
    // contains a tab).
    let stripped: Vec<String> = text
        .split('\t')
        .map(strip_ansi_escapes::strip_str)
        .collect();
    stripped
        .join("\t")
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}

/// The last `lines` lines of console text, printable.
pub fn tail(raw: &[u8], lines: usize) -> String {
    let text = printable(&String::from_utf8_lossy(raw).replace('\r', ""));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Whether the console output from byte `from` on ends with what looks like a shell prompt
/// waiting for input (`rpibsp# `, `~ $ `, after escape sequences such as busybox's cursor
/// query are removed): a board whose console was left logged in. Kernel log lines never count.
/// Only a hint: the caller confirms with the ready handshake.
pub fn looks_like_prompt(buf: &[u8], from: usize) -> bool {
    let Some(rest) = buf.get(from..) else {
        return false;
    };
    let text = printable(&String::from_utf8_lossy(rest).replace('\r', ""));
    let last = text.rsplit('\n').next().unwrap_or("").trim_end();
    !last.is_empty() && (last.ends_with('#') || last.ends_with('$')) && kernel_stamp(last).is_none()
}

/// The whole line of the first `needle` at or after byte `from` (printable, trimmed), e.g.
/// the kernel's panic message with its reason.
pub fn line_at(buf: &[u8], needle: &str, from: usize) -> Option<String> {
    let at = find(buf, needle.as_bytes(), from)?;
    let end = buf[at..]
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .map_or(buf.len(), |p| at + p);
    Some(
        printable(&String::from_utf8_lossy(&buf[at..end]))
            .trim()
            .to_string(),
    )
}
