//! Reading the live device tree as the kernel exports it (`/proc/device-tree`): one directory
//! per node, one file per property, big-endian cells, NUL-terminated strings.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Device-tree access errors.
#[derive(Debug, thiserror::Error)]
pub enum DtError {
    /// A file or directory of the tree could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// What was read.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// A property does not have the expected encoding.
    #[error("{node}: property `{prop}` {problem}")]
    Format {
        /// Node path, e.g. `/rpibsp-led`.
        node: String,
        /// Property name.
        prop: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A node of the live device tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DtNode {
    /// Directory of the node below the tree root given to [`DtIndex::load`].
    pub dir: PathBuf,
    /// Device-tree path, e.g. `/rpibsp-led` or `/soc/gpio@7e200000`.
    pub path: String,
    /// Its `compatible` strings.
    pub compatible: Vec<String>,
}

impl DtNode {
    /// The node's name (last path component).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }

    /// Raw property bytes; `Ok(None)` when the property does not exist.
    pub fn prop(&self, name: &str) -> Result<Option<Vec<u8>>, DtError> {
        let path = self.dir.join(name);
        match fs::read(&path) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(DtError::Io { path, source }),
        }
    }

    /// Whether a (boolean) property exists.
    pub fn has(&self, name: &str) -> bool {
        self.dir.join(name).is_file()
    }

    fn format_err(&self, prop: &str, problem: impl Into<String>) -> DtError {
        DtError::Format {
            node: self.path.clone(),
            prop: prop.to_string(),
            problem: problem.into(),
        }
    }

    /// A property holding exactly one string.
    pub fn string(&self, name: &str) -> Result<Option<String>, DtError> {
        let Some(raw) = self.prop(name)? else {
            return Ok(None);
        };
        let list = split_strings(&raw).ok_or_else(|| {
            self.format_err(
                name,
                format!("is not a NUL-terminated string ({} bytes)", raw.len()),
            )
        })?;
        match list.as_slice() {
            [one] => Ok(Some(one.clone())),
            _ => Err(self.format_err(name, format!("holds {} strings, expected one", list.len()))),
        }
    }

    /// A property holding a list of strings.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, DtError> {
        let Some(raw) = self.prop(name)? else {
            return Ok(None);
        };
        split_strings(&raw)
            .map(Some)
            .ok_or_else(|| self.format_err(name, "is not a list of NUL-terminated strings"))
    }

    /// A property holding big-endian 32-bit cells.
    pub fn cells(&self, name: &str) -> Result<Option<Vec<u32>>, DtError> {
        let Some(raw) = self.prop(name)? else {
            return Ok(None);
        };
        if raw.len() % 4 != 0 {
            return Err(self.format_err(
                name,
                format!(
                    "is {} bytes long, not a multiple of 4 (not u32 cells)",
                    raw.len()
                ),
            ));
        }
        Ok(Some(
            raw.as_chunks::<4>()
                .0
                .iter()
                .map(|c| u32::from_be_bytes(*c))
                .collect(),
        ))
    }

    /// A property holding exactly one u32.
    pub fn u32(&self, name: &str) -> Result<Option<u32>, DtError> {
        match self.cells(name)? {
            None => Ok(None),
            Some(c) if c.len() == 1 => Ok(Some(c[0])),
            Some(c) => {
                Err(self.format_err(name, format!("holds {} cells, expected one u32", c.len())))
            }
        }
    }

    /// `status` is absent, "okay" or "ok".
    pub fn enabled(&self) -> Result<bool, DtError> {
        Ok(matches!(
            self.string("status")?.as_deref(),
            None | Some("okay") | Some("ok")
        ))
    }
}

/// Splits a property into NUL-terminated strings; `None` if it is not such a list.
pub fn split_strings(raw: &[u8]) -> Option<Vec<String>> {
    if raw.is_empty() || *raw.last()? != 0 {
        return None;
    }
    raw[..raw.len() - 1]
        .split(|&b| b == 0)
        .map(|s| std::str::from_utf8(s).ok().map(str::to_string))
        .collect()
}

/// All nodes of a tree with their `compatible` and `phandle`, loaded once.
#[derive(Clone, Debug, Default)]
pub struct DtIndex {
    /// Root directory it was loaded from.
    pub root: PathBuf,
    /// Every node, in directory-walk order.
    pub nodes: Vec<DtNode>,
    phandles: BTreeMap<u32, usize>,
}

impl DtIndex {
    /// Walks the tree below `root` (normally `/proc/device-tree`).
    pub fn load(root: &Path) -> Result<DtIndex, DtError> {
        let mut index = DtIndex {
            root: root.to_path_buf(),
            ..Default::default()
        };
        // Fail with a clear message if the root itself is missing.
        fs::read_dir(root).map_err(|source| DtError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        index.walk(root, "")?;
        Ok(index)
    }

    fn walk(&mut self, dir: &Path, path: &str) -> Result<(), DtError> {
        let node = DtNode {
            dir: dir.to_path_buf(),
            path: if path.is_empty() {
                "/".to_string()
            } else {
                path.to_string()
            },
            compatible: Vec::new(),
        };
        let compatible = node
            .strings("compatible")
            .ok()
            .flatten()
            .unwrap_or_default();
        let phandle = node
            .u32("phandle")
            .ok()
            .flatten()
            .or_else(|| node.u32("linux,phandle").ok().flatten());
        let idx = self.nodes.len();
        self.nodes.push(DtNode { compatible, ..node });
        if let Some(p) = phandle {
            self.phandles.insert(p, idx);
        }
        let mut children: Vec<_> = fs::read_dir(dir)
            .map_err(|source| DtError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        children.sort();
        for child in children {
            self.walk(&dir.join(&child), &format!("{path}/{child}"))?;
        }
        Ok(())
    }

    /// Nodes whose `compatible` contains `compat`.
    pub fn compatible(&self, compat: &str) -> Vec<&DtNode> {
        self.nodes
            .iter()
            .filter(|n| n.compatible.iter().any(|c| c == compat))
            .collect()
    }

    /// The node with this phandle.
    pub fn by_phandle(&self, phandle: u32) -> Option<&DtNode> {
        self.phandles.get(&phandle).map(|&i| &self.nodes[i])
    }

    /// The node at a device-tree path.
    pub fn by_path(&self, path: &str) -> Option<&DtNode> {
        self.nodes.iter().find(|n| n.path == path)
    }

    /// The parent of a node.
    pub fn parent(&self, node: &DtNode) -> Option<&DtNode> {
        let (parent, _) = node.path.rsplit_once('/')?;
        self.by_path(if parent.is_empty() { "/" } else { parent })
    }

    /// The root node's `compatible` (board and SoC).
    pub fn board_compatible(&self) -> Vec<String> {
        self.by_path("/")
            .map(|n| n.compatible.clone())
            .unwrap_or_default()
    }
}

/// A decoded `gpios` entry with two cells (`<&controller pin flags>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpioSpec {
    /// Phandle of the controller.
    pub phandle: u32,
    /// Line number on that controller.
    pub line: u32,
    /// Flags; bit 0 is `GPIO_ACTIVE_LOW`.
    pub flags: u32,
}

impl GpioSpec {
    /// `GPIO_ACTIVE_LOW` is set.
    pub fn active_low(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// Decodes a node's single-GPIO `gpios` property (`#gpio-cells = <2>` controllers).
pub fn gpio_spec(node: &DtNode, prop: &str) -> Result<Option<GpioSpec>, DtError> {
    let Some(cells) = node.cells(prop)? else {
        return Ok(None);
    };
    if cells.len() != 3 {
        return Err(DtError::Format {
            node: node.path.clone(),
            prop: prop.to_string(),
            problem: format!(
                "has {} cells, expected 3 (<&controller line flags>, one GPIO)",
                cells.len()
            ),
        });
    }
    Ok(Some(GpioSpec {
        phandle: cells[0],
        line: cells[1],
        flags: cells[2],
    }))
}
