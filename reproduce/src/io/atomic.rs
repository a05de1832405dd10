//! Files written whole or not at all. [`write_atomic`] writes a synced temporary file beside the target and
//! renames it over the target (readers see the old file or the new one); [`create_new`] hard-links the
//! temporary file into place, which also refuses to replace an existing file (a published result, a
//! lease). Temporary files are named `.<name>.tmp<pid>`, so the runner sweeps those of processes that are
//! gone. Tested through `grid::lease`'s tests and the SIGKILL tests of `tests/cli_cells.rs`.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary file this process writes beside `path` before moving it into place: `.<name>.tmp<pid>`
/// (`grid::lease::sweep_temporaries` removes those of processes that are gone).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp{}", std::process::id()))
}

/// Creates `path` holding `bytes` unless a file of that name exists (`Ok(false)`): the bytes go to a synced
/// temp file that is hard-linked into place. The link is atomic and refused when the name exists (on local
/// and NFS file systems), so no reader sees a part-written file and no finished file is overwritten.
pub fn create_new(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    let tmp = temp_path(path);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `path` atomically with `write`: a temp file in the same folder, synced, then renamed over `path`.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut std::fs::File) -> Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().with_context(|| format!("{}: not a file path", path.display()))?;
    let tmp = temp_path(&dir.join(name));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("{}: cannot create", tmp.display()))?;
        write(&mut f)?;
        f.flush()?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot move into place", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes text atomically.
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, |f| f.write_all(text.as_bytes()).with_context(|| format!("{}: cannot write", path.display())))
}

/// SHA-256 (hex) of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).with_context(|| format!("{}: cannot read", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
