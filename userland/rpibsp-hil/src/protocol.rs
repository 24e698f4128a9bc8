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

/// Finds `needle` in `hay` starting at byte `from`.
pub fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() || needle.is_empty() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
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

/// Position of a printk timestamp (`[   12.345678] `) in a line, if any.
fn kernel_stamp(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while let Some(p) = line[i..].find('[') {
        let start = i + p;
        let mut j = start + 1;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        let d1 = bytes[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        let k = j + d1;
        if d1 > 0 && k < bytes.len() && bytes[k] == b'.' {
            let d2 = bytes[k + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            let m = k + 1 + d2;
            if d2 >= 3 && m < bytes.len() && bytes[m] == b']' {
                return Some(start);
            }
        }
        i = start + 1;
    }
    None
}

/// Splits console text into command output and kernel log lines.
///
/// Kernel messages (printk timestamps, `CONFIG_PRINTK_TIME`) can land between output lines
/// or in the middle of one: then the part before the timestamp and the next line are joined
/// back together. Carriage returns are dropped.
pub fn split_kernel_lines(raw: &[u8]) -> (String, Vec<String>) {
    let text = String::from_utf8_lossy(raw).replace('\r', "");
    let mut out: Vec<String> = Vec::new();
    let mut kernel = Vec::new();
    let mut carry: Option<String> = None;
    let ends_with_newline = text.ends_with('\n');
    let lines: Vec<&str> = text.split('\n').collect();
    let count = if ends_with_newline {
        lines.len() - 1
    } else {
        lines.len()
    };
    for line in &lines[..count] {
        match kernel_stamp(line) {
            Some(0) => kernel.push(line.to_string()),
            Some(p) if line[..p].trim().is_empty() => kernel.push(line[p..].to_string()),
            Some(p) => {
                kernel.push(line[p..].to_string());
                let mut c = carry.take().unwrap_or_default();
                c.push_str(&line[..p]);
                carry = Some(c);
            }
            None => {
                let mut full = carry.take().unwrap_or_default();
                full.push_str(line);
                out.push(full);
            }
        }
    }
    if let Some(c) = carry {
        out.push(c);
    }
    let mut clean = out.join("\n");
    if ends_with_newline && !clean.is_empty() {
        clean.push('\n');
    }
    (clean, kernel)
}

/// Removes ANSI escape sequences and other control characters (for human summaries).
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for n in chars.by_ref() {
                    if n.is_ascii_alphabetic() || n == '~' {
                        break;
                    }
                }
            }
            continue;
        }
        if c == '\n' || c == '\t' || !c.is_control() {
            out.push(c);
        }
    }
    out
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
