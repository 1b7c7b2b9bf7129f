//! `reimage package`: builds the Function Compute functions as static binaries and lays them
//! out as template.yml's `CodeUri`s expect: `dist/<function>/bootstrap`.
//!
//! FC's custom runtimes ship an older glibc than a current build machine, so a binary
//! linked the usual way does not start there. Two static builds work:
//!
//! - `x86_64-unknown-linux-musl` (preferred): needs the target's std
//!   (`rustup target add x86_64-unknown-linux-musl`) and a musl C compiler for the crates
//!   that compile C (`apt-get install musl-tools`, which provides `musl-gcc`);
//! - `x86_64-unknown-linux-gnu` with `-C target-feature=+crt-static`: a statically linked
//!   glibc binary, for machines without the musl std.
//!
//! Without `--target` the musl build is used when both its std and `musl-gcc` are present,
//! the static glibc build otherwise. Every function crate under `functions/` is packaged;
//! each binary is checked to be static (no ELF interpreter) before it is copied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};

/// The musl target.
pub const MUSL: &str = "x86_64-unknown-linux-musl";
/// The glibc target, built with `+crt-static`.
pub const GNU: &str = "x86_64-unknown-linux-gnu";
/// The Cargo profile the functions are built with (the workspace's Cargo.toml says why).
pub const PROFILE: &str = "function";

/// Options of `reimage package`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target triple: x86_64-unknown-linux-musl or x86_64-unknown-linux-gnu (static).
    /// Default: musl when its std and musl-gcc are installed, else static glibc.
    #[arg(long)]
    target: Option<String>,
    /// Where to lay out `<function>/bootstrap`.
    #[arg(long, default_value = "dist")]
    out: PathBuf,
    /// Package only these functions (directory names under functions/).
    #[arg(long = "function", value_name = "NAME")]
    functions: Vec<String>,
    /// The workspace to build (default: the one around the current directory).
    #[arg(long)]
    workspace: Option<PathBuf>,
}

/// One function crate: the directory name under `functions/` (which is the FC function
/// name), its Cargo package and its binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCrate {
    /// The function's name, e.g. `wait-image`.
    pub function: String,
    /// The Cargo package name.
    pub package: String,
    /// The binary target's name.
    pub binary: String,
}

/// How the binaries are built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// The target triple.
    pub target: String,
    /// Extra environment for cargo.
    pub env: Vec<(String, String)>,
}

/// Picks the build: an explicit target, else musl when possible, else static glibc.
pub fn choose_build(
    explicit: Option<&str>,
    musl_std_installed: bool,
    musl_gcc: bool,
) -> anyhow::Result<Build> {
    let target = match explicit {
        Some(t) => t.to_owned(),
        None if musl_std_installed && musl_gcc => MUSL.to_owned(),
        None => GNU.to_owned(),
    };
    match target.as_str() {
        MUSL => {
            if !musl_std_installed {
                bail!(
                    "the {MUSL} standard library is not installed: run `rustup target add {MUSL}`, or build with --target {GNU}"
                );
            }
            if !musl_gcc {
                bail!(
                    "no musl C compiler: install musl-tools (`apt-get install musl-tools`), or build with --target {GNU}"
                );
            }
            Ok(Build {
                target,
                env: vec![("CC_x86_64_unknown_linux_musl".into(), "musl-gcc".into())],
            })
        }
        GNU => Ok(Build {
            target,
            env: vec![(
                "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS".into(),
                "-C target-feature=+crt-static".into(),
            )],
        }),
        other => bail!(
            "unsupported target {other:?}: Function Compute runs x86_64 Linux; use {MUSL} or {GNU}"
        ),
    }
}

/// The function crates of a workspace, from `cargo metadata --no-deps` output: every
/// package whose manifest is `<workspace>/functions/<name>/Cargo.toml`, with its binary.
pub fn function_crates(metadata: &serde_json::Value) -> anyhow::Result<Vec<FunctionCrate>> {
    let root = metadata["workspace_root"]
        .as_str()
        .context("cargo metadata has no workspace_root")?;
    let functions_dir = Path::new(root).join("functions");
    let mut found = BTreeMap::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let Some(manifest) = package["manifest_path"].as_str().map(Path::new) else {
            continue;
        };
        let Some(dir) = manifest.parent() else {
            continue;
        };
        if dir.parent() != Some(functions_dir.as_path()) {
            continue;
        }
        let function = dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("a function directory name is not UTF-8")?
            .to_owned();
        let package_name = package["name"]
            .as_str()
            .context("a package without a name")?
            .to_owned();
        let bins: Vec<&str> = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"))
            })
            .filter_map(|t| t["name"].as_str())
            .collect();
        let binary = match bins.as_slice() {
            [one] => (*one).to_owned(),
            [] => bail!("functions/{function} ({package_name}) has no binary target"),
            _ => bail!(
                "functions/{function} ({package_name}) has several binaries ({}); a function has one",
                bins.join(", ")
            ),
        };
        found.insert(
            function.clone(),
            FunctionCrate {
                function,
                package: package_name,
                binary,
            },
        );
    }
    Ok(found.into_values().collect())
}

/// Whether `elf` is an x86-64 ELF executable without a program interpreter, i.e. one that
/// needs no dynamic loader or shared glibc to start.
pub fn is_static_x86_64_elf(elf: &[u8]) -> Result<bool, String> {
    let read_u16 = |at: usize| -> Result<u16, String> {
        elf.get(at..at + 2)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_le_bytes)
            .ok_or_else(|| "truncated ELF header".to_owned())
    };
    let read_u32 = |at: usize| -> Result<u32, String> {
        elf.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| "truncated ELF header".to_owned())
    };
    let read_u64 = |at: usize| -> Result<u64, String> {
        elf.get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| "truncated ELF header".to_owned())
    };
    if elf.get(0..4) != Some(b"\x7fELF".as_slice()) {
        return Err("not an ELF file".into());
    }
    if elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    if read_u16(18)? != 62 {
        return Err("not an x86-64 binary".into());
    }
    let phoff = usize::try_from(read_u64(32)?).map_err(|e| e.to_string())?;
    let phentsize = usize::from(read_u16(54)?);
    let phnum = usize::from(read_u16(56)?);
    const PT_INTERP: u32 = 3;
    for i in 0..phnum {
        if read_u32(phoff + i * phentsize)? == PT_INTERP {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs `reimage package`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut metadata_cmd = Command::new(cargo());
    metadata_cmd.args(["metadata", "--format-version", "1", "--no-deps"]);
    if let Some(ws) = &args.workspace {
        metadata_cmd.current_dir(ws);
    }
    let output = metadata_cmd.output().context("running `cargo metadata`")?;
    if !output.status.success() {
        bail!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("reading `cargo metadata` output")?;
    let root = PathBuf::from(
        metadata["workspace_root"]
            .as_str()
            .context("cargo metadata has no workspace_root")?,
    );
    let target_dir = PathBuf::from(
        metadata["target_directory"]
            .as_str()
            .context("cargo metadata has no target_directory")?,
    );

    let mut crates = function_crates(&metadata)?;
    if crates.is_empty() {
        bail!(
            "no function crates under {}",
            root.join("functions").display()
        );
    }
    if !args.functions.is_empty() {
        for wanted in &args.functions {
            if !crates.iter().any(|c| &c.function == wanted) {
                bail!(
                    "no function {wanted:?} under functions/ (there are: {})",
                    crates
                        .iter()
                        .map(|c| c.function.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        crates.retain(|c| args.functions.contains(&c.function));
    }

    let build = choose_build(args.target.as_deref(), musl_std_installed(), has_musl_gcc())?;
    eprintln!(
        "building {} for {}",
        crates
            .iter()
            .map(|c| c.function.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        build.target
    );
    let mut cargo_build = Command::new(cargo());
    cargo_build.current_dir(&root).args([
        "build",
        "--profile",
        PROFILE,
        "--locked",
        "--target",
        &build.target,
    ]);
    for c in &crates {
        cargo_build.args(["-p", &c.package]);
    }
    for (k, v) in &build.env {
        cargo_build.env(k, v);
    }
    let status = cargo_build.status().context("running `cargo build`")?;
    if !status.success() {
        bail!("`cargo build` failed ({status})");
    }

    let out = if args.out.is_absolute() {
        args.out.clone()
    } else {
        root.join(&args.out)
    };
    for c in &crates {
        let built = target_dir.join(&build.target).join(PROFILE).join(&c.binary);
        let bytes =
            std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
        match is_static_x86_64_elf(&bytes) {
            Ok(true) => {}
            Ok(false) => bail!(
                "{} is dynamically linked and would not start on FC's older glibc",
                built.display()
            ),
            Err(why) => bail!("{}: {why}", built.display()),
        }
        let dest = lay_out(&out, &c.function, &bytes)?;
        println!(
            "{:<14} {:>6.2} MB  {}",
            c.function,
            bytes.len() as f64 / 1_000_000.0,
            dest.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `binary` as `<out>/<function>/bootstrap`, executable.
pub fn lay_out(out: &Path, function: &str, binary: &[u8]) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = out.join(function);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dest = dir.join("bootstrap");
    std::fs::write(&dest, binary).with_context(|| format!("writing {}", dest.display()))?;
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", dest.display()))?;
    Ok(dest)
}

/// `cargo`, or the one running us when invoked through cargo.
fn cargo() -> std::ffi::OsString {
    reimage::settings::Env::from_process()
        .get("CARGO")
        .map_or_else(|| "cargo".into(), Into::into)
}

fn musl_std_installed() -> bool {
    let Ok(out) = Command::new("rustc").args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(MUSL)
        .join("lib")
        .is_dir()
}

fn has_musl_gcc() -> bool {
    Command::new("musl-gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> serde_json::Value {
        serde_json::json!({
            "workspace_root": "/ws",
            "target_directory": "/ws/target",
            "packages": [
                {"name": "reimage", "manifest_path": "/ws/shared/Cargo.toml",
                 "targets": [{"name": "reimage", "kind": ["lib"]}]},
                {"name": "reimage-fn-wait-image", "manifest_path": "/ws/functions/wait-image/Cargo.toml",
                 "targets": [{"name": "wait-image", "kind": ["bin"]}]},
                {"name": "reimage-fn-create-image", "manifest_path": "/ws/functions/create-image/Cargo.toml",
                 "targets": [{"name": "create-image", "kind": ["bin"]}]},
                {"name": "helper", "manifest_path": "/ws/functions/nested/deeper/Cargo.toml",
                 "targets": [{"name": "helper", "kind": ["bin"]}]}
            ]
        })
    }

    #[test]
    fn function_crates_are_the_packages_directly_under_functions() {
        let crates = function_crates(&metadata()).expect("valid metadata");
        assert_eq!(
            crates,
            [
                FunctionCrate {
                    function: "create-image".into(),
                    package: "reimage-fn-create-image".into(),
                    binary: "create-image".into(),
                },
                FunctionCrate {
                    function: "wait-image".into(),
                    package: "reimage-fn-wait-image".into(),
                    binary: "wait-image".into(),
                },
            ]
        );
    }

    #[test]
    fn a_function_crate_without_exactly_one_binary_is_an_error() {
        let mut m = metadata();
        m["packages"][1]["targets"] = serde_json::json!([{"name": "x", "kind": ["lib"]}]);
        let err = function_crates(&m).expect_err("no binary");
        assert!(err.to_string().contains("functions/wait-image"), "{err}");
    }

    #[test]
    fn musl_is_preferred_when_it_can_be_built() {
        assert_eq!(choose_build(None, true, true).expect("musl").target, MUSL);
        let gnu = choose_build(None, true, false).expect("static glibc");
        assert_eq!(gnu.target, GNU);
        assert!(gnu.env.iter().any(|(k, v)| k
            == "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS"
            && v.contains("+crt-static")));
        assert_eq!(choose_build(None, false, true).expect("gnu").target, GNU);
    }

    #[test]
    fn an_explicit_target_that_cannot_be_built_says_what_to_install() {
        let err = choose_build(Some(MUSL), false, true).expect_err("no std");
        assert!(err.to_string().contains("rustup target add"), "{err}");
        let err = choose_build(Some(MUSL), true, false).expect_err("no musl-gcc");
        assert!(err.to_string().contains("musl-tools"), "{err}");
        let err = choose_build(Some("aarch64-apple-darwin"), true, true).expect_err("not FC");
        assert!(err.to_string().contains("unsupported target"), "{err}");
    }

    /// A minimal ELF64 header with one program header of type `p_type`.
    fn elf_with_segment(p_type: u32) -> Vec<u8> {
        let mut e = vec![0u8; 64 + 56];
        e[0..4].copy_from_slice(b"\x7fELF");
        e[4] = 2; // 64-bit
        e[5] = 1; // little-endian
        e[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        e[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        e[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
        e[56..58].copy_from_slice(&1u16.to_le_bytes()); // phnum
        e[64..68].copy_from_slice(&p_type.to_le_bytes());
        e
    }

    #[test]
    fn an_interpreter_segment_means_dynamically_linked() {
        assert_eq!(is_static_x86_64_elf(&elf_with_segment(1)), Ok(true));
        assert_eq!(is_static_x86_64_elf(&elf_with_segment(3)), Ok(false));
        assert!(is_static_x86_64_elf(b"#!/bin/sh\n").is_err());
        assert!(is_static_x86_64_elf(&elf_with_segment(3)[..60]).is_err());
    }

    #[test]
    fn the_test_binary_itself_is_recognised_as_dynamic() {
        // cargo's test binaries link glibc dynamically on this target.
        let me = std::env::current_exe().expect("current exe");
        let bytes = std::fs::read(me).expect("readable");
        assert_eq!(is_static_x86_64_elf(&bytes), Ok(false));
    }

    #[test]
    fn lay_out_writes_an_executable_bootstrap_per_function() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = lay_out(dir.path(), "verify", b"binary").expect("written");
        assert_eq!(dest, dir.path().join("verify/bootstrap"));
        assert_eq!(std::fs::read(&dest).expect("read"), b"binary");
        let mode = std::fs::metadata(&dest).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}
