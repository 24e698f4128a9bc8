//! Starting the emulated board: `qemu-system-aarch64 -M raspi3b|raspi4b` with its first
//! UART on a Unix socket that rpibsp-hil connects to.

use std::fs::{self, File};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::console::Console;

/// QEMU errors.
#[derive(Debug, thiserror::Error)]
pub enum QemuError {
    /// An input file is missing.
    #[error("{what} {} does not exist", path.display())]
    Missing {
        /// What it is (kernel, dtb, ...).
        what: &'static str,
        /// Path.
        path: PathBuf,
    },
    /// The SD image size is not a power of two and resizing was not allowed.
    #[error(
        "SD image {} is {size} bytes; QEMU's SD card needs a power-of-two size (next: {next}). \
         Resize it (qemu-img resize -f raw IMAGE {next}) or drop --no-sd-resize to let rpibsp-hil use a resized copy",
        path.display()
    )]
    SdSize {
        /// Image path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// Next power of two.
        next: u64,
    },
    /// File operations on the work directory failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// QEMU could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// Program.
        program: String,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// QEMU exited before the console was connected.
    #[error("QEMU exited with {status} before its console was up; its output:\n{output}")]
    Exited {
        /// Exit status.
        status: String,
        /// QEMU's stderr/stdout.
        output: String,
    },
    /// The console socket did not appear.
    #[error("QEMU's console socket {} did not appear within {:.0} s", path.display(), waited.as_secs_f64())]
    NoSocket {
        /// Socket path.
        path: PathBuf,
        /// How long was waited.
        waited: Duration,
    },
}

/// Emulated machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    /// Raspberry Pi 3B (BCM2837).
    Raspi3b,
    /// Raspberry Pi 4B (BCM2711).
    Raspi4b,
}

impl Machine {
    /// QEMU's machine name.
    pub fn name(self) -> &'static str {
        match self {
            Machine::Raspi3b => "raspi3b",
            Machine::Raspi4b => "raspi4b",
        }
    }
}

/// Root file system of the emulated board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rootfs {
    /// An initramfs (`-initrd`).
    Initrd(PathBuf),
    /// An SD card image (`-drive if=sd`), root on its second partition.
    Sd(PathBuf),
    /// Nothing (the kernel has a built-in initramfs).
    None,
}

/// Everything needed to start QEMU.
#[derive(Clone, Debug)]
pub struct QemuSpec {
    /// qemu-system-aarch64 binary.
    pub program: String,
    /// Machine.
    pub machine: Machine,
    /// Kernel Image.
    pub kernel: PathBuf,
    /// Device tree blob.
    pub dtb: PathBuf,
    /// Root file system.
    pub rootfs: Rootfs,
    /// Kernel command line; `None` for the default (see [`default_append`]).
    pub append: Option<String>,
    /// Let QEMU write to the SD image (default: `snapshot=on`, the image is never changed).
    pub sd_writable: bool,
    /// Extra QEMU arguments.
    pub extra: Vec<String>,
}

/// Default kernel command line: console on the PL011 (first UART, where the socket is),
/// root on the SD card's second partition if booting from SD.
pub fn default_append(rootfs: &Rootfs) -> String {
    let mut a = String::from("console=ttyAMA0,115200 loglevel=7");
    if let Rootfs::Sd(_) = rootfs {
        a.push_str(" root=/dev/mmcblk0p2 rootwait rw");
    }
    a
}

/// The QEMU command line (without the program).
pub fn args(spec: &QemuSpec, socket: &Path, sd_image: Option<&Path>) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "-M".into(),
        spec.machine.name().into(),
        "-kernel".into(),
        spec.kernel.display().to_string(),
        "-dtb".into(),
        spec.dtb.display().to_string(),
        "-append".into(),
        spec.append
            .clone()
            .unwrap_or_else(|| default_append(&spec.rootfs)),
        "-nographic".into(),
        "-monitor".into(),
        "none".into(),
        "-no-reboot".into(),
        "-chardev".into(),
        format!(
            "socket,id=console,path={},server=on,wait=on",
            socket.display()
        ),
        "-serial".into(),
        "chardev:console".into(),
    ];
    match &spec.rootfs {
        Rootfs::Initrd(p) => {
            a.push("-initrd".into());
            a.push(p.display().to_string());
        }
        Rootfs::Sd(p) => {
            let image = sd_image.unwrap_or(p);
            let snapshot = if spec.sd_writable { "" } else { ",snapshot=on" };
            match spec.machine {
                Machine::Raspi3b => {
                    a.push("-drive".into());
                    a.push(format!(
                        "file={},if=sd,format=raw{snapshot}",
                        image.display()
                    ));
                }
                // The 4B's card slot is the emmc2 controller (mmc@7e340000), but QEMU puts an
                // `if=sd` card on the BCM2838 GPIO block's SD bus, which hands it to the Arasan
                // sdhci (the 4B's WiFi SDIO) or the sdhost: the kernel would wait for its root
                // device forever. So the card goes on the emmc2's own bus, the first
                // generic-sdhci found on the system bus (see tests/qemu/boot.sh).
                Machine::Raspi4b => {
                    a.push("-drive".into());
                    a.push(format!(
                        "file={},if=none,id=sdcard,format=raw{snapshot}",
                        image.display()
                    ));
                    a.push("-device".into());
                    a.push("sd-card,drive=sdcard,bus=/generic-sdhci/sd-bus".into());
                }
            }
        }
        Rootfs::None => {}
    }
    a.extend(spec.extra.iter().cloned());
    a
}

/// Smallest power of two >= `n`.
pub fn next_power_of_two(n: u64) -> u64 {
    n.max(1).next_power_of_two()
}

/// Returns an SD image QEMU accepts: `image` itself if its size is a power of two, otherwise
/// (if `resize`) a sparse copy in `workdir` grown to the next power of two.
pub fn sd_image(
    image: &Path,
    workdir: &Path,
    resize: bool,
) -> Result<(PathBuf, Option<String>), QemuError> {
    let size = fs::metadata(image)
        .map_err(|source| QemuError::Io {
            what: format!("reading the size of {}", image.display()),
            source,
        })?
        .len();
    if size.is_power_of_two() {
        return Ok((image.to_owned(), None));
    }
    let next = next_power_of_two(size);
    if !resize {
        return Err(QemuError::SdSize {
            path: image.to_owned(),
            size,
            next,
        });
    }
    let copy = workdir.join("sd-resized.img");
    let io_err = |what: String| move |source| QemuError::Io { what, source };
    let mut src = File::open(image).map_err(io_err(format!("opening {}", image.display())))?;
    let mut dst = File::create(&copy).map_err(io_err(format!("creating {}", copy.display())))?;
    io::copy(&mut src, &mut dst).map_err(io_err(format!(
        "copying {} to {}",
        image.display(),
        copy.display()
    )))?;
    dst.set_len(next)
        .map_err(io_err(format!("resizing {}", copy.display())))?;
    let note = format!(
        "SD image {} is {size} bytes, not a power of two as QEMU requires: using a copy grown to {next} bytes ({})",
        image.display(),
        copy.display()
    );
    Ok((copy, Some(note)))
}

/// A running QEMU, killed when dropped.
pub struct Qemu {
    child: Child,
    /// Where QEMU's own stdout/stderr go.
    pub output_path: PathBuf,
    /// The command line, for the record.
    pub command_line: String,
}

impl Qemu {
    /// Starts QEMU for `spec`, with its console on `workdir/console.sock`, and connects.
    pub fn start(
        spec: &QemuSpec,
        workdir: &Path,
        resize_sd: bool,
    ) -> Result<(Qemu, Console, Vec<String>), QemuError> {
        let mut notes = Vec::new();
        for (what, p) in [("kernel", &spec.kernel), ("device tree", &spec.dtb)] {
            if !p.is_file() {
                return Err(QemuError::Missing {
                    what,
                    path: p.clone(),
                });
            }
        }
        let sd = match &spec.rootfs {
            Rootfs::Initrd(p) if !p.is_file() => {
                return Err(QemuError::Missing {
                    what: "initrd",
                    path: p.clone(),
                })
            }
            Rootfs::Sd(p) if !p.is_file() => {
                return Err(QemuError::Missing {
                    what: "SD image",
                    path: p.clone(),
                })
            }
            Rootfs::Sd(p) => {
                let (img, note) = sd_image(p, workdir, resize_sd)?;
                notes.extend(note);
                Some(img)
            }
            _ => None,
        };
        let socket = workdir.join("console.sock");
        let _ = fs::remove_file(&socket);
        let args = args(spec, &socket, sd.as_deref());
        let output_path = workdir.join("qemu-output.txt");
        let out = File::create(&output_path).map_err(|source| QemuError::Io {
            what: format!("creating {}", output_path.display()),
            source,
        })?;
        let err_out = out.try_clone().map_err(|source| QemuError::Io {
            what: "duplicating QEMU's output file".into(),
            source,
        })?;
        let command_line = std::iter::once(spec.program.clone())
            .chain(args.iter().cloned())
            .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
            .collect::<Vec<_>>()
            .join(" ");
        let mut command = Command::new(&spec.program);
        command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err_out);
        // QEMU dies with rpibsp-hil even when rpibsp-hil is killed (a CI job's timeout sends
        // SIGTERM to it alone) and `Drop` never runs: the raspi machines never power off, so an
        // orphaned QEMU would run forever. The signal is sent when the thread that started QEMU
        // ends, so start it from a thread that lives as long as the run (the binary: main).
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent; nothing else
        // runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(|source| QemuError::Spawn {
            program: spec.program.clone(),
            source,
        })?;
        let mut qemu = Qemu {
            child,
            output_path,
            command_line,
        };
        let console = qemu.connect(&socket, Duration::from_secs(30))?;
        Ok((qemu, console, notes))
    }

    fn connect(&mut self, socket: &Path, timeout: Duration) -> Result<Console, QemuError> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(QemuError::Exited {
                    status: status.to_string(),
                    output: fs::read_to_string(&self.output_path).unwrap_or_default(),
                });
            }
            if socket.exists() {
                if let Ok(c) = Console::unix(socket) {
                    return Ok(c);
                }
            }
            if start.elapsed() > timeout {
                return Err(QemuError::NoSocket {
                    path: socket.to_owned(),
                    waited: start.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether QEMU is still running; its exit status otherwise.
    pub fn exited(&mut self) -> Option<String> {
        self.child.try_wait().ok().flatten().map(|s| s.to_string())
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        // QEMU never powers the board off: kill it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
