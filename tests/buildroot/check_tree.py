#!/usr/bin/env python3
"""Static checks of the rpibsp br2-external tree (no Buildroot needed).

Usage: check_tree.py REPO_ROOT [KERNEL_SOURCE]

REPO_ROOT is the repository (the tree is REPO_ROOT/buildroot). With
KERNEL_SOURCE, the device trees the defconfigs name are also looked up in it.

Prints one line per check: "PASS <name>", "FAIL <name>: <why>" or
"SKIP <name>: <why>", and "# <text>" for diagnostics. Exit code 1 if a check
failed. The check names are stable: the negative tests of run.sh rely on them.
"""

import glob
import os
import re
import sys

EXT_NAME = "RPIBSP"
EXT_VAR = "$(BR2_EXTERNAL_RPIBSP_PATH)"
FRAGMENT = f"{EXT_VAR}/../kernel/bsp.config"
# The product kernel's fragments, in the order scripts/lib.sh (kernel_fragments bsp) merges them.
FRAGMENTS = [FRAGMENT, f"{EXT_VAR}/../kernel/net.config"]
PATCH_DIR = f"{EXT_VAR}/../kernel/patches"
BOARD_OVERLAY = f"{EXT_VAR}/../dts/rpibsp.dts"
PLACEHOLDER = "RPIBSP-PLACEHOLDER"

BOARDS = {
    "rpi3": {
        "defconfig": "rpibsp_rpi3_64_defconfig",
        "dts": ["broadcom/bcm2837-rpi-3-b", "broadcom/bcm2837-rpi-3-b-plus"],
    },
    "rpi4": {
        "defconfig": "rpibsp_rpi4_64_defconfig",
        "dts": ["broadcom/bcm2711-rpi-4-b"],
    },
}

# What every defconfig must enable.
REQUIRED_OPTIONS = [
    "BR2_aarch64",
    "BR2_LINUX_KERNEL",
    "BR2_LINUX_KERNEL_CUSTOM_VERSION",
    "BR2_LINUX_KERNEL_DTS_SUPPORT",
    "BR2_LINUX_KERNEL_EXT_RPIBSP_RUST",
    "BR2_PACKAGE_RPI_FIRMWARE",
    "BR2_PACKAGE_RPIBSP_DRIVERS",
    "BR2_PACKAGE_RPIBSP_USERLAND",
    "BR2_PACKAGE_HOST_GENIMAGE",
    "BR2_PACKAGE_HOST_BMAP_TOOLS",
    "BR2_DOWNLOAD_FORCE_CHECK_HASHES",
]

# Lines of kernel/bsp.config that a file may contain before it counts as a
# copy of the fragment (the README quotes a few options).
MAX_FRAGMENT_LINES = 4


class Checker:
    def __init__(self, repo, ksrc):
        self.repo = os.path.abspath(repo)
        self.tree = os.path.join(self.repo, "buildroot")
        self.ksrc = ksrc
        self.failed = False

    # --- output -------------------------------------------------------------
    def result(self, name, problems, skip=None):
        if skip:
            print(f"SKIP {name}: {skip}")
        elif problems:
            self.failed = True
            print(f"FAIL {name}: {'; '.join(problems)}")
        else:
            print(f"PASS {name}")

    @staticmethod
    def diag(text):
        print(f"# {text}")

    # --- helpers ------------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.tree, *parts)

    def read(self, *parts):
        try:
            with open(self.path(*parts), encoding="utf-8") as f:
                return f.read()
        except OSError:
            return None

    def resolve(self, value):
        """A defconfig path with $(BR2_EXTERNAL_RPIBSP_PATH) -> a real path."""
        return os.path.normpath(value.replace(EXT_VAR, self.tree))

    def packages(self):
        base = self.path("package")
        if not os.path.isdir(base):
            return []
        return sorted(d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d)))

    @staticmethod
    def parse_defconfig(text):
        values = {}
        for line in text.splitlines():
            m = re.match(r'^(BR2_\w+)=(.*)$', line)
            if m:
                value = m.group(2)
                if value.startswith('"') and value.endswith('"'):
                    value = value[1:-1]
                values[m.group(1)] = value
                continue
            m = re.match(r'^# (BR2_\w+) is not set$', line)
            if m:
                values[m.group(1)] = None
        return values

    # --- checks of the tree -------------------------------------------------
    def check_external_desc(self):
        text = self.read("external.desc")
        problems = []
        if text is None:
            problems.append("external.desc missing")
        else:
            names = re.findall(r"^name:\s*(\S+)\s*$", text, re.M)
            if names != [EXT_NAME]:
                problems.append(f"name is {names or 'missing'}, expected {EXT_NAME}")
            if not re.search(r"^desc:\s*\S", text, re.M):
                problems.append("no desc: line")
        self.result("external-desc", problems)

    def check_config_in(self):
        text = self.read("Config.in")
        problems = []
        if text is None:
            self.result("config-in-sources", ["Config.in missing"])
            return
        sourced = re.findall(r'^\s*source\s+"([^"]+)"', text, re.M)
        for src in sourced:
            if not src.startswith("$BR2_EXTERNAL_RPIBSP_PATH/"):
                problems.append(f"source {src} is not relative to $BR2_EXTERNAL_RPIBSP_PATH")
                continue
            real = self.path(src[len("$BR2_EXTERNAL_RPIBSP_PATH/"):])
            if not os.path.isfile(real):
                problems.append(f"sources {src}, which does not exist")
        for pkg in self.packages():
            for kind in ("Config.in", "Config.in.host"):
                if os.path.isfile(self.path("package", pkg, kind)):
                    wanted = f"$BR2_EXTERNAL_RPIBSP_PATH/package/{pkg}/{kind}"
                    if wanted not in sourced:
                        problems.append(f"does not source package/{pkg}/{kind}")
        self.result("config-in-sources", problems)

    def check_external_mk(self):
        text = self.read("external.mk")
        if text is None:
            self.result("external-mk-includes", ["external.mk missing"])
            return
        included = set()
        for line in text.splitlines():
            m = re.match(r"^\s*-?include\s+(.*)$", line)
            if not m:
                continue
            expr = m.group(1).replace("$(BR2_EXTERNAL_RPIBSP_PATH)", self.tree)
            for pattern in re.findall(r"[^\s()]+\.mk", expr):
                included.update(os.path.normpath(p) for p in glob.glob(pattern))
        problems = []
        for pkg in self.packages():
            mk = os.path.normpath(self.path("package", pkg, f"{pkg}.mk"))
            if os.path.isfile(mk) and mk not in included:
                problems.append(f"package/{pkg}/{pkg}.mk is not included")
        self.result("external-mk-includes", problems)

    def check_packages(self):
        problems = []
        pkgs = self.packages()
        if not pkgs:
            problems.append("no package/ directory")
        for pkg in pkgs:
            d = ("package", pkg)
            mk = self.read(*d, f"{pkg}.mk")
            if mk is None:
                problems.append(f"{pkg}: {pkg}.mk missing")
                continue
            if not (os.path.isfile(self.path(*d, "Config.in"))
                    or os.path.isfile(self.path(*d, "Config.in.host"))):
                problems.append(f"{pkg}: no Config.in nor Config.in.host")
            prefix = pkg.upper().replace("-", "_")
            if not re.search(r"^\$\(eval \$\((host-)?[a-z-]*package\)\)", mk, re.M):
                problems.append(f"{pkg}: no $(eval $(...-package)) in {pkg}.mk")
            for var in re.findall(r"^(?:define\s+)?([A-Z][A-Z0-9_]*)\s*(?:\+|:|\?)?=", mk, re.M):
                if not re.match(rf"^(HOST_)?{prefix}_", var):
                    problems.append(f"{pkg}: variable {var} is not prefixed {prefix}_")
            local = re.search(rf"^{prefix}_SITE_METHOD\s*=\s*local\s*$", mk, re.M)
            hash_text = self.read(*d, f"{pkg}.hash")
            if local:
                if hash_text is not None:
                    problems.append(f"{pkg}: local package with a .hash file")
                continue
            if hash_text is None:
                problems.append(f"{pkg}: downloads sources but has no {pkg}.hash")
                continue
            if not re.search(r"^sha256\s+[0-9a-f]{64}\s+\S+\.tar\.\w+$", hash_text, re.M):
                problems.append(f"{pkg}: {pkg}.hash has no sha256 line for a tarball")
        self.result("package-files", problems)

    def check_linux_ext(self):
        problems = []
        options = set(re.findall(r"^config\s+(BR2_LINUX_KERNEL_EXT_\w+)",
                                 self.read("linux", "Config.ext.in") or "", re.M))
        exts = sorted(glob.glob(self.path("linux", "linux-ext-*.mk")))
        if not exts:
            problems.append("no linux/linux-ext-*.mk")
        for mk in exts:
            name = os.path.basename(mk)[len("linux-ext-"):-len(".mk")]
            option = "BR2_LINUX_KERNEL_EXT_" + name.upper().replace("-", "_")
            if option not in options:
                problems.append(f"{os.path.basename(mk)}: {option} is not in linux/Config.ext.in")
            with open(mk, encoding="utf-8") as f:
                if f"$({option})" not in f.read():
                    problems.append(f"{os.path.basename(mk)} does not depend on {option}")
        self.result("linux-ext", problems)

    # --- checks of each defconfig ---------------------------------------------
    def check_defconfig(self, board, spec):
        prefix = f"defconfig-{board}"
        text = self.read("configs", spec["defconfig"])
        if text is None:
            self.result(f"{prefix}-exists", [f"configs/{spec['defconfig']} missing"])
            return
        self.result(f"{prefix}-exists", [])
        cfg = self.parse_defconfig(text)

        missing = [o for o in REQUIRED_OPTIONS if cfg.get(o) != "y"]
        self.result(f"{prefix}-options", [f"{o} is not =y" for o in missing])

        frags = (cfg.get("BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES") or "").split()
        self.result(f"{prefix}-fragment",
                    [] if frags == FRAGMENTS
                    else [f"BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES is {frags}, expected {FRAGMENTS}"])

        patches = cfg.get("BR2_LINUX_KERNEL_PATCH") or ""
        self.result(f"{prefix}-patches",
                    [] if patches.split() == [PATCH_DIR]
                    else [f"BR2_LINUX_KERNEL_PATCH is '{patches}', expected {PATCH_DIR}"])

        # Overlays: the board overlay is compiled by the kernel build and each
        # overlay handed to post-image.sh is one of the compiled sources.
        dts_paths = (cfg.get("BR2_LINUX_KERNEL_CUSTOM_DTS_PATH") or "").split()
        problems = []
        if BOARD_OVERLAY not in dts_paths:
            problems.append(f"BR2_LINUX_KERNEL_CUSTOM_DTS_PATH does not list {BOARD_OVERLAY}")
        for p in dts_paths:
            if not p.startswith(f"{EXT_VAR}/../dts/"):
                problems.append(f"{p} is not taken from the repository's dts/")
        compiled = {os.path.splitext(os.path.basename(p))[0] for p in dts_paths}
        overlays = (cfg.get("BR2_ROOTFS_POST_SCRIPT_ARGS") or "").split()
        if "rpibsp" not in overlays:
            problems.append("BR2_ROOTFS_POST_SCRIPT_ARGS does not name the rpibsp overlay")
        for o in overlays:
            if o not in compiled:
                problems.append(f"overlay {o} is not compiled (not in BR2_LINUX_KERNEL_CUSTOM_DTS_PATH)")
        self.result(f"{prefix}-overlays", problems)

        # Every path of the tree or repository the defconfig names must exist.
        problems = []
        for key, value in cfg.items():
            for word in (value or "").split():
                if EXT_VAR not in word:
                    continue
                real = self.resolve(word)
                if not real.startswith(self.repo + os.sep):
                    problems.append(f"{key}: {word} points outside the repository")
                elif key == "BR2_LINUX_KERNEL_PATCH" and not os.path.isdir(real):
                    problems.append(f"{key}: directory {os.path.relpath(real, self.repo)} missing")
                elif not os.path.exists(real):
                    problems.append(f"{key}: {os.path.relpath(real, self.repo)} missing")
        for key in ("BR2_ROOTFS_POST_BUILD_SCRIPT", "BR2_ROOTFS_POST_IMAGE_SCRIPT"):
            for word in (cfg.get(key) or "").split():
                real = self.resolve(word)
                if os.path.exists(real) and not os.access(real, os.X_OK):
                    problems.append(f"{key}: {word} is not executable")
        self.result(f"{prefix}-paths-exist", problems)

        version = cfg.get("BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE") or ""
        env = os.path.join(self.repo, "kernel", "source.env")
        if not os.path.isfile(env):
            self.result(f"{prefix}-kernel-version", [], skip="kernel/source.env does not exist")
        else:
            with open(env, encoding="utf-8") as f:
                m = re.search(r"^KERNEL_VERSION=['\"]?([^'\"\s]+)", f.read(), re.M)
            recorded = m.group(1) if m else None
            self.result(f"{prefix}-kernel-version",
                        [] if recorded and version == recorded
                        else [f"defconfig has {version or 'no version'}, "
                              f"kernel/source.env has {recorded or 'no KERNEL_VERSION'}"])

        self.check_kernel_hash(prefix, cfg, version)
        self.check_config_txt(prefix, cfg, spec, overlays)

        dts = (cfg.get("BR2_LINUX_KERNEL_INTREE_DTS_NAME") or "").split()
        problems = [] if dts == spec["dts"] else [f"BR2_LINUX_KERNEL_INTREE_DTS_NAME is {dts}, expected {spec['dts']}"]
        if self.ksrc:
            for name in dts:
                if not os.path.isfile(os.path.join(self.ksrc, "arch", "arm64", "boot", "dts", name + ".dts")):
                    problems.append(f"{name}.dts is not in the kernel source {self.ksrc}")
        self.result(f"{prefix}-dtbs", problems)

    def check_kernel_hash(self, prefix, cfg, version):
        patch_dir = cfg.get("BR2_GLOBAL_PATCH_DIR")
        name = f"{prefix}-kernel-hash"
        if not patch_dir:
            self.result(name, ["no BR2_GLOBAL_PATCH_DIR (where linux.hash lives)"])
            return
        hash_file = os.path.join(self.resolve(patch_dir), "linux", "linux.hash")
        try:
            with open(hash_file, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            self.result(name, [f"{os.path.relpath(hash_file, self.repo)} missing"])
            return
        tarball = f"linux-{version}.tar.xz"
        problems = []
        lines = re.findall(r"^sha256\s+(\S+)\s+(linux-\S+\.tar\.xz)\s*$", text, re.M)
        for digest, fname in lines:
            if fname != tarball:
                problems.append(f"hash for {fname}, but the defconfig builds {tarball}")
            elif not re.fullmatch(r"[0-9a-f]{64}", digest):
                problems.append(f"malformed sha256 for {fname}")
        real = [d for d, f in lines if f == tarball]
        placeholder = re.search(rf"^#\s*{PLACEHOLDER}\s+{re.escape(tarball)}\s*$", text, re.M)
        if not real and not placeholder:
            problems.append(f"neither a sha256 nor the {PLACEHOLDER} marker for {tarball}")
        if real and placeholder:
            problems.append(f"both a sha256 and the {PLACEHOLDER} marker for {tarball}")
        if placeholder and not problems:
            self.diag(f"{prefix}: {tarball} hash is a marked placeholder "
                      "(board/rpibsp/update-kernel-hash.sh fills it in)")
        self.result(name, problems)

    def check_config_txt(self, prefix, cfg, spec, overlays):
        name = f"{prefix}-config-txt"
        path = cfg.get("BR2_PACKAGE_RPI_FIRMWARE_CONFIG_FILE")
        if not path:
            self.result(name, ["no BR2_PACKAGE_RPI_FIRMWARE_CONFIG_FILE"])
            return
        try:
            with open(self.resolve(path), encoding="utf-8") as f:
                lines = [line.strip() for line in f if not line.lstrip().startswith("#")]
        except OSError:
            self.result(name, [f"{path} missing"])
            return
        problems = []
        for wanted in ("arm_64bit=1", "enable_uart=1", "kernel=Image"):
            if wanted not in lines:
                problems.append(f"no '{wanted}'")
        loaded = [line.split("=", 1)[1].split(",")[0] for line in lines if line.startswith("dtoverlay=")]
        if "rpibsp" not in loaded:
            problems.append("no 'dtoverlay=rpibsp'")
        for o in loaded:
            if o not in overlays:
                problems.append(f"dtoverlay={o} is not an overlay the image ships")
        dtbs = {os.path.basename(d) + ".dtb" for d in spec["dts"]}
        named = [line.split("=", 1)[1] for line in lines if line.startswith("device_tree=")]
        for d in named:
            if d not in dtbs:
                problems.append(f"device_tree={d} is not built")
        for d in sorted(dtbs - set(named)):
            problems.append(f"{d} is built but no device_tree= selects it")
        self.result(name, problems)

    # --- the fragment is shared, never copied --------------------------------
    def check_no_fragment_copy(self):
        fragment = os.path.join(self.repo, "kernel", "bsp.config")
        try:
            with open(fragment, encoding="utf-8") as f:
                options = {line.strip() for line in f if line.startswith("CONFIG_")}
        except OSError:
            self.result("no-fragment-copy", ["kernel/bsp.config missing"])
            return
        problems = []
        for root, _, files in os.walk(self.tree):
            for fname in files:
                p = os.path.join(root, fname)
                try:
                    with open(p, encoding="utf-8") as f:
                        shared = {line.strip() for line in f} & options
                except (OSError, UnicodeDecodeError):
                    continue
                if len(shared) > MAX_FRAGMENT_LINES:
                    problems.append(f"{os.path.relpath(p, self.repo)} repeats {len(shared)} "
                                    "lines of kernel/bsp.config")
        self.result("no-fragment-copy", problems)

    def run(self):
        if not os.path.isdir(self.tree):
            self.result("tree-exists", [f"{self.tree} is not a directory"])
            return 1
        self.check_external_desc()
        self.check_config_in()
        self.check_external_mk()
        self.check_packages()
        self.check_linux_ext()
        for board, spec in BOARDS.items():
            self.check_defconfig(board, spec)
        self.check_no_fragment_copy()
        return 1 if self.failed else 0


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ksrc = argv[2] if len(argv) == 3 and argv[2] else None
    return Checker(argv[1], ksrc).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
