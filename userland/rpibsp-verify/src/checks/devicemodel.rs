//! `/dev/rpibsp-devicemodel`: node, every ioctl with good and bad arguments, and the
//! read/write semantics of its buffer.
//!
//! Buffer semantics checked: a write at file offset `pos` stores bytes there and extends
//! `buf_used`; a read at `pos >= buf_used` returns 0 (EOF); a write at `pos == capacity`
//! fails with ENOSPC (a write that straddles the end may be short or fail with ENOSPC).
//! Offsets are exercised with `pread`/`pwrite`: the misc device has no `llseek`, so
//! `lseek` gives ESPIPE, while positional I/O reaches the driver's `ki_pos`.

use rpibsp_abi::{
    ioc, Errno, Status, ABI_VERSION, BUFFER_SIZE_MAX, BUFFER_SIZE_MIN, GREETING_LEN,
    IOC_GET_STATUS, IOC_GET_VALUE, IOC_MAGIC, IOC_NONE, IOC_READ, IOC_SET_VALUE, VALUE_MAX,
};

use crate::board;
use crate::names::*;
use crate::platform::DevModel;
use crate::sysfs;
use crate::Ctx;

fn errno_text(e: Errno) -> String {
    format!("{e} ({})", e.desc())
}

fn expect_errno(
    r: Result<impl std::fmt::Debug, Errno>,
    want: Errno,
    what: &str,
) -> Result<String, String> {
    match r {
        Err(e) if e == want => Ok(format!("{what}: {}", errno_text(e))),
        Err(e) => Err(format!(
            "{what} failed with {}, expected {}",
            errno_text(e),
            errno_text(want)
        )),
        Ok(v) => Err(format!(
            "{what} succeeded ({v:?}), expected {}",
            errno_text(want)
        )),
    }
}

/// Reads until EOF or `max` bytes; `read(buf, done)` reads the next chunk.
fn read_until_eof(
    max: usize,
    mut read: impl FnMut(&mut [u8], usize) -> Result<usize, Errno>,
) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 4096];
    while out.len() < max {
        let want = buf.len().min(max - out.len());
        let n = read(&mut buf[..want], out.len())?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(out)
}

/// Reads sequentially (file position) until EOF or `max` bytes.
fn read_all(dev: &mut dyn DevModel, max: usize) -> Result<Vec<u8>, Errno> {
    read_until_eof(max, |buf, _| dev.read(buf))
}

/// `pread`s from offset 0 until EOF or `max` bytes.
fn pread_all(dev: &mut dyn DevModel, max: usize) -> Result<Vec<u8>, Errno> {
    read_until_eof(max, |buf, done| dev.read_at(buf, done as u64))
}

/// DT expectations for the status checks.
struct DtValues {
    greeting: Option<String>,
    value: Option<u32>,
}

fn dt_values(ctx: &Ctx<'_>) -> DtValues {
    let node = board::load_tree(ctx.roots()).ok().and_then(|i| {
        i.compatible(COMPAT_DEVICEMODEL)
            .first()
            .map(|n| (*n).clone())
    });
    DtValues {
        greeting: node
            .as_ref()
            .and_then(|n| n.string("rpibsp,greeting").ok().flatten()),
        value: node
            .as_ref()
            .and_then(|n| n.u32("rpibsp,value").ok().flatten()),
    }
}

/// Runs the devicemodel checks.
pub fn run(ctx: &mut Ctx<'_>) {
    let path = ctx.roots().dev.join(DEVICEMODEL_NODE);
    let misc_dev = ctx
        .roots()
        .sys
        .join("class/misc")
        .join(DEVICEMODEL_NODE)
        .join("dev");
    let node = match ctx.platform.devnode_info(&path) {
        Err(e) => {
            let hint = if misc_dev.exists() {
                format!(
                    "{} exists ({}), so the misc device is registered but the node was not \
                     created: is devtmpfs mounted on /dev (or run mdev -s)?",
                    misc_dev.display(),
                    sysfs::read_trim(&misc_dev).unwrap_or_default()
                )
            } else {
                "no misc device is registered either: rpibsp_devicemodel not loaded or probe failed"
                    .into()
            };
            ctx.fail(
                format!("{} exists", path.display()),
                format!("{}: {e}; {hint}", path.display()),
            );
            return;
        }
        Ok(info) => info,
    };
    let mut problems = Vec::new();
    if !node.is_char {
        problems.push("is not a character device".to_string());
    }
    if node.mode & 0o777 != 0o600 {
        problems.push(format!("has mode {:04o}, expected 0600", node.mode & 0o777));
    }
    if let Ok(text) = sysfs::read_trim(&misc_dev) {
        let want = format!("{}:{}", node.major, node.minor);
        if text != want {
            problems.push(format!(
                "is {want} but {} says {text} (stale node?)",
                misc_dev.display()
            ));
        }
    }
    let r = if problems.is_empty() {
        Ok(format!("char {}:{} mode 0600", node.major, node.minor))
    } else {
        Err(format!("{} {}", path.display(), problems.join(", ")))
    };
    ctx.check(format!("{} is a 0600 character device", path.display()), r);

    let mut dev = match ctx.platform.open_devicemodel(&path) {
        Ok(d) => {
            ctx.pass(format!("open {}", path.display()), "");
            d
        }
        Err(e) => {
            ctx.fail(format!("open {}", path.display()), e.to_string());
            return;
        }
    };

    ioctls(ctx, dev.as_mut());
    buffer(ctx, dev.as_mut());
}

fn ioctls(ctx: &mut Ctx<'_>, dev: &mut dyn DevModel) {
    let r = match dev.abi_version() {
        Ok(v) if v == ABI_VERSION => Ok(format!("ABI version {v}")),
        Ok(v) => Err(format!(
            "kernel driver speaks ABI version {v}, this rpibsp-verify was built for {ABI_VERSION}: \
             rebuild userland and modules from the same tree"
        )),
        Err(e) => Err(format!("IOC_GET_ABI_VERSION failed: {}", errno_text(e))),
    };
    ctx.check("IOC_GET_ABI_VERSION", r);

    let dt = dt_values(ctx);
    let status = match dev.status() {
        Ok(s) => s,
        Err(e) => {
            ctx.fail(
                "IOC_GET_STATUS",
                format!("IOC_GET_STATUS failed: {}", errno_text(e)),
            );
            return;
        }
    };
    let mut problems = Vec::new();
    if status.size as usize != std::mem::size_of::<Status>() {
        problems.push(format!(
            "size is {}, expected {}",
            status.size,
            std::mem::size_of::<Status>()
        ));
    }
    if status.abi_version != ABI_VERSION {
        problems.push(format!(
            "abi_version is {}, expected {ABI_VERSION}",
            status.abi_version
        ));
    }
    if !status.greeting_terminated() {
        problems.push(format!(
            "greeting is not NUL terminated within {GREETING_LEN} bytes"
        ));
    }
    match &dt.greeting {
        Some(g) if *g != status.greeting_str() => problems.push(format!(
            "greeting is {:?}, the device tree says {g:?}",
            status.greeting_str()
        )),
        _ => {}
    }
    if !(BUFFER_SIZE_MIN..=BUFFER_SIZE_MAX).contains(&status.buf_capacity) {
        problems.push(format!(
            "buf_capacity {} is outside {BUFFER_SIZE_MIN}..={BUFFER_SIZE_MAX}",
            status.buf_capacity
        ));
    }
    if status.buf_used > status.buf_capacity {
        problems.push(format!(
            "buf_used {} > buf_capacity {}",
            status.buf_used, status.buf_capacity
        ));
    }
    if status.open_count < 1 {
        problems.push(format!(
            "open_count is {} while this file is open",
            status.open_count
        ));
    }
    let r = if problems.is_empty() {
        Ok(format!(
            "greeting {:?}, value {}, buffer {}/{}, open {}",
            status.greeting_str(),
            status.value,
            status.buf_used,
            status.buf_capacity,
            status.open_count
        ))
    } else {
        Err(format!("IOC_GET_STATUS: {}", problems.join("; ")))
    };
    ctx.check("IOC_GET_STATUS fields", r);

    let r = match dt.value {
        Some(v) if v == status.value => Ok(format!("{v}")),
        Some(v) => Err(format!(
            "runtime value is {}, the device tree's rpibsp,value is {v} (changed by IOC_SET_VALUE since \
             the driver was probed, or the probe did not read the property)",
            status.value
        )),
        None => Err("no rpibsp,value in the device tree to compare with (see overlay checks)".into()),
    };
    ctx.check("initial value equals rpibsp,value", r);

    let original = status.value;
    let r = match dev.value() {
        Ok(v) if v == original => Ok(v.to_string()),
        Ok(v) => Err(format!(
            "IOC_GET_VALUE returned {v}, IOC_GET_STATUS said {original}"
        )),
        Err(e) => Err(format!("IOC_GET_VALUE failed: {}", errno_text(e))),
    };
    ctx.check("IOC_GET_VALUE matches status", r);

    for v in [VALUE_MAX, 0, 12345] {
        let r = match dev.set_value(v) {
            Ok(()) => match dev.value() {
                Ok(got) if got == v => Ok(String::new()),
                Ok(got) => Err(format!(
                    "IOC_SET_VALUE({v}) succeeded but IOC_GET_VALUE returns {got}"
                )),
                Err(e) => Err(format!("IOC_GET_VALUE failed: {}", errno_text(e))),
            },
            Err(e) => Err(format!(
                "IOC_SET_VALUE({v}) failed with {}, {v} is allowed",
                errno_text(e)
            )),
        };
        ctx.check(format!("IOC_SET_VALUE({v}) round-trips"), r);
    }
    for bad in [VALUE_MAX + 1, u32::MAX] {
        let mut r = expect_errno(
            dev.set_value(bad),
            Errno::EINVAL,
            &format!("IOC_SET_VALUE({bad})"),
        );
        if r.is_ok() {
            if let Ok(now) = dev.value() {
                if now != 12345 {
                    r = Err(format!(
                        "IOC_SET_VALUE({bad}) returned EINVAL but changed the value to {now}"
                    ));
                }
            }
        }
        ctx.check(format!("IOC_SET_VALUE({bad}) > VALUE_MAX -> EINVAL"), r);
    }

    let unknown_nr = ioc(IOC_NONE, IOC_MAGIC, 0x7f, 0);
    ctx.check(
        "unknown command number -> ENOTTY",
        expect_errno(
            dev.ioctl_null(unknown_nr),
            Errno::ENOTTY,
            &format!("ioctl({unknown_nr:#x})"),
        ),
    );
    let wrong_magic = ioc(IOC_READ, IOC_MAGIC ^ 0x01, 1, std::mem::size_of::<Status>());
    ctx.check(
        "foreign ioctl type byte -> ENOTTY",
        expect_errno(
            dev.ioctl_null(wrong_magic),
            Errno::ENOTTY,
            &format!("ioctl({wrong_magic:#x})"),
        ),
    );
    for (cmd, name) in [
        (IOC_GET_STATUS, "IOC_GET_STATUS"),
        (IOC_GET_VALUE, "IOC_GET_VALUE"),
        (IOC_SET_VALUE, "IOC_SET_VALUE"),
    ] {
        ctx.check(
            format!("{name}(NULL) -> EFAULT"),
            expect_errno(
                dev.ioctl_null(cmd),
                Errno::EFAULT,
                &format!("{name} with a NULL pointer"),
            ),
        );
    }

    let r = match dev.set_value(original) {
        Ok(()) => Ok(format!("value {original}")),
        Err(e) => Err(format!(
            "IOC_SET_VALUE({original}) failed: {}",
            errno_text(e)
        )),
    };
    ctx.check("original value restored", r);

    let r = match dev.reopen() {
        Err(e) => Err(format!("second open failed: {}", errno_text(e))),
        Ok(mut second) => {
            let before = status.open_count;
            let with_two = second.status().map(|s| s.open_count);
            drop(second);
            let after = dev.status().map(|s| s.open_count);
            match (with_two, after) {
                (Ok(two), Ok(one)) if two == before + 1 && one == before => {
                    Ok(format!("{before} -> {two} -> {one}"))
                }
                (Ok(two), Ok(one)) => Err(format!(
                    "open_count went {before} -> {two} (second open) -> {one} (closed), expected {before} -> {} -> {before}",
                    before + 1
                )),
                (Err(e), _) | (_, Err(e)) => Err(format!("IOC_GET_STATUS failed: {}", errno_text(e))),
            }
        }
    };
    ctx.check("open_count follows open/close", r);
}

/// Empties the buffer and `pwrite`s `data` from offset 0, following short writes.
fn refill(dev: &mut dyn DevModel, data: &[u8]) -> Result<(), String> {
    dev.reset()
        .map_err(|e| format!("IOC_RESET failed: {}", errno_text(e)))?;
    let mut done = 0;
    while done < data.len() {
        match dev.write_at(&data[done..], done as u64) {
            Ok(0) => {
                return Err(format!(
                    "pwrite returned 0 after {done} of {} bytes",
                    data.len()
                ))
            }
            Ok(n) => done += n,
            Err(e) => {
                return Err(format!(
                    "pwrite failed after {done} of {} bytes: {}",
                    data.len(),
                    errno_text(e)
                ))
            }
        }
    }
    Ok(())
}

fn buffer(ctx: &mut Ctx<'_>, dev: &mut dyn DevModel) {
    let r = dev
        .reset()
        .map_err(|e| format!("IOC_RESET failed: {}", errno_text(e)))
        .and_then(|_| match dev.status() {
            Ok(s) if s.buf_used == 0 => Ok(String::new()),
            Ok(s) => Err(format!(
                "buf_used is {} after IOC_RESET, expected 0",
                s.buf_used
            )),
            Err(e) => Err(format!("IOC_GET_STATUS failed: {}", errno_text(e))),
        });
    if !ctx.check("IOC_RESET empties the buffer", r) {
        return;
    }
    let capacity = match dev.status() {
        Ok(s) => s.buf_capacity as usize,
        Err(_) => return,
    };

    // Sequential I/O on fresh file descriptions (file position starts at 0).
    let mut reader = match dev.reopen() {
        Ok(r) => r,
        Err(e) => {
            ctx.fail("open a second file description", errno_text(e));
            return;
        }
    };
    let mut b = [0u8; 16];
    let r = match reader.read(&mut b) {
        Ok(0) => Ok(String::new()),
        Ok(n) => Err(format!(
            "read on the empty buffer returned {n} bytes, expected 0 (EOF)"
        )),
        Err(e) => Err(format!("read failed: {}", errno_text(e))),
    };
    ctx.check("read of the empty buffer -> EOF", r);

    let msg = b"rpibsp-verify: hello devicemodel";
    let r = match dev.write(msg) {
        Ok(n) if n == msg.len() => match dev.status() {
            Ok(s) if s.buf_used as usize == msg.len() => Ok(format!("{n} bytes")),
            Ok(s) => Err(format!("wrote {n} bytes but buf_used is {}", s.buf_used)),
            Err(e) => Err(format!("IOC_GET_STATUS failed: {}", errno_text(e))),
        },
        Ok(n) => Err(format!("write of {} bytes returned {n}", msg.len())),
        Err(e) => Err(format!("write failed: {}", errno_text(e))),
    };
    ctx.check("write stores data (buf_used)", r);

    let r = read_all(reader.as_mut(), capacity + 16)
        .map_err(|e| format!("read failed: {}", errno_text(e)))
        .and_then(|data| {
            if data == msg {
                Ok(format!("{} bytes back, then EOF", data.len()))
            } else {
                Err(format!(
                    "sequential read returned {:?} ({} bytes), expected {:?}",
                    String::from_utf8_lossy(&data),
                    data.len(),
                    String::from_utf8_lossy(msg)
                ))
            }
        });
    ctx.check("another open file reads the data, then EOF", r);
    drop(reader);

    let mut part = [0u8; 6];
    let r = match dev.read_at(&mut part, 7) {
        Ok(n) if part[..n] == msg[7..13] => Ok(String::new()),
        Ok(n) => Err(format!(
            "pread(6 bytes at offset 7) returned {:?}, expected {:?}",
            String::from_utf8_lossy(&part[..n]),
            String::from_utf8_lossy(&msg[7..13])
        )),
        Err(e) => Err(format!("pread at offset 7 failed: {}", errno_text(e))),
    };
    ctx.check("pread honours the offset", r);
    let r = match dev.read_at(&mut part, msg.len() as u64) {
        Ok(0) => Ok(String::new()),
        Ok(n) => Err(format!(
            "pread at offset {} (the end of the data) returned {n} bytes, expected 0",
            msg.len()
        )),
        Err(e) => Err(format!("pread at the end failed: {}", errno_text(e))),
    };
    ctx.check("pread at the end of the data -> EOF", r);

    // Fill the buffer completely, then one more byte must fail with ENOSPC.
    let pattern: Vec<u8> = (0..capacity).map(|i| (i % 251) as u8).collect();
    let fill = (|| -> Result<String, String> {
        refill(dev, &pattern)?;
        let used = dev.status().map_err(errno_text)?.buf_used as usize;
        if used != capacity {
            return Err(format!("buf_used is {used} after writing {capacity} bytes"));
        }
        Ok(format!("{capacity} bytes"))
    })();
    if !ctx.check("writes fill the buffer to its capacity", fill) {
        let _ = dev.reset();
        return;
    }
    ctx.check(
        "pwrite at the capacity -> ENOSPC",
        expect_errno(
            dev.write_at(b"!", capacity as u64),
            Errno::ENOSPC,
            &format!("1-byte pwrite at offset {capacity}"),
        ),
    );
    let r = pread_all(dev, capacity + 16)
        .map_err(|e| format!("pread failed: {}", errno_text(e)))
        .and_then(|data| {
            if data == pattern {
                Ok(String::new())
            } else {
                let first_diff = data.iter().zip(&pattern).position(|(a, b)| a != b);
                Err(format!(
                    "read back {} bytes, expected {capacity}; first difference at {first_diff:?}",
                    data.len()
                ))
            }
        });
    ctx.check("full buffer reads back intact", r);

    // A write straddling the end: short write or ENOSPC are both fine, more is not.
    let straddle = (|| -> Result<String, String> {
        refill(dev, &pattern[..capacity - 2])?;
        match dev.write_at(b"abcd", capacity as u64 - 2) {
            Ok(n) if n <= 2 => Ok(format!("short write of {n} bytes")),
            Ok(n) => Err(format!(
                "write of 4 bytes at offset {} returned {n}: more than fits",
                capacity - 2
            )),
            Err(Errno::ENOSPC) => Ok("ENOSPC".into()),
            Err(e) => Err(format!(
                "write failed with {}, expected a short write or ENOSPC",
                errno_text(e)
            )),
        }
    })();
    ctx.check("write straddling the end is short or ENOSPC", straddle);

    let r = dev
        .reset()
        .map(|_| String::new())
        .map_err(|e| format!("IOC_RESET failed: {}", errno_text(e)));
    ctx.check("buffer emptied after the test", r);
}
