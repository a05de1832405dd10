//! Leases on cells (the files `seed<k>.claim`), so that any number of `twoway run` processes (one machine,
//! several, SLURM array tasks on a shared file system) can work on one results folder and train each cell
//! once.
//!
//! Before training a cell a process creates `seed<k>.claim` in the cell's folder with create-new (atomic on
//! local and NFSv3+ file systems), holding its host, pid, start time and a heartbeat it refreshes every
//! `lease / 4`. A claim is stale when its process is gone (same host: no such pid) or its heartbeat is older
//! than the lease (another host); a stale claim is reclaimed (renamed aside, checked to be the one judged
//! stale, removed) and the reclaim logged. Tested below, and across processes in `tests/cli_cells.rs`.

use crate::host::{hostname, now, pid_alive};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a claim file holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub host: String,
    pub pid: u32,
    /// Identifies this claim (a pid can be reused; floats do not survive every JSON round trip exactly).
    #[serde(default)]
    pub token: u64,
    /// Seconds since the Unix epoch.
    pub started: f64,
    pub heartbeat: f64,
}

impl Holder {
    fn mine() -> Holder {
        let t = now();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let token = nanos ^ (u64::from(std::process::id()) << 32);
        Holder { host: hostname(), pid: std::process::id(), token, started: t, heartbeat: t }
    }

    /// Whether `other` is the same claim (host, pid and token).
    pub fn same(&self, other: &Holder) -> bool {
        self.host == other.host && self.pid == other.pid && self.token == other.token
    }

    /// Why this claim is stale, or `None` while its holder is alive.
    pub fn stale(&self, lease: Duration) -> Option<String> {
        if self.host == hostname() {
            (!pid_alive(self.pid)).then(|| format!("process {} of this host is gone", self.pid))
        } else {
            let age = now() - self.heartbeat;
            (age > lease.as_secs_f64()).then(|| format!("heartbeat {age:.0} s old, lease {} s", lease.as_secs()))
        }
    }

    pub fn describe(&self) -> String {
        format!("{} pid {}", self.host, self.pid)
    }
}

/// The claim file of a cell (`seed<k>.claim` in the cell's folder).
pub fn path(dir: &Path, seed: u64) -> PathBuf {
    crate::layout::seed_file(dir, seed, crate::layout::CLAIM)
}

/// Reads a claim file; `None` if it is gone or unreadable (being written).
pub fn read(path: &Path) -> Option<Holder> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// A claim this process holds; its heartbeat runs until it is released (or dropped).
pub struct Claim {
    path: PathBuf,
    holder: Holder,
    stop: Arc<AtomicBool>,
    beat: Option<std::thread::JoinHandle<()>>,
}

/// The outcome of trying to claim a cell.
pub enum Acquired {
    Claimed(Claim),
    /// Another live process holds it.
    Held(Holder),
}

fn write_holder(path: &Path, h: &Holder) -> Result<()> {
    crate::io::write_text(path, &serde_json::to_string(h)?)
}

/// What [`reclaim`] did.
enum Reclaimed {
    /// The claim judged stale was removed.
    Removed,
    /// The claim was gone already (another process reclaimed or released it).
    Gone,
    /// Another claim had replaced the one judged stale: it was put back.
    Replaced,
}

/// Removes the claim `p` judged stale: renames it aside (one process wins), checks with `judged` that the
/// file moved is the claim that was judged, and removes it, or puts it back.
fn reclaim(p: &Path, judged: impl Fn(Option<&Holder>) -> bool) -> Reclaimed {
    let aside = p.with_extension(format!("claim.reclaim{}", std::process::id()));
    if std::fs::rename(p, &aside).is_err() {
        return Reclaimed::Gone;
    }
    if judged(read(&aside).as_ref()) {
        let _ = std::fs::remove_file(&aside);
        Reclaimed::Removed
    } else {
        let _ = std::fs::rename(&aside, p);
        Reclaimed::Replaced
    }
}

/// How long an unreadable claim file is taken for one being written before it counts as stale.
const UNREADABLE_GRACE: Duration = Duration::from_secs(30);

/// Creates the claim file `path` holding `h`, failing with `AlreadyExists` if there is one. The claim is
/// created whole ([`crate::io::create_new`]), so a process killed at any instant never leaves an empty claim
/// behind. Where hard links are not supported, create-new and write.
fn create_with(path: &Path, h: &Holder) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(h).map_err(std::io::Error::other)?;
    match crate::io::create_new(path, &bytes) {
        Ok(true) => Ok(()),
        Ok(false) => Err(std::io::ErrorKind::AlreadyExists.into()),
        Err(_) => {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
            f.write_all(&bytes)
        }
    }
}

/// Claims the cell `seed` in `dir` unless a live process holds it; a stale claim is reclaimed (reported
/// through `log`).
pub fn acquire(dir: &Path, seed: u64, lease: Duration, log: &mut dyn FnMut(String)) -> Result<Acquired> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let p = path(dir, seed);
    for _ in 0..2 {
        let holder = Holder::mine();
        match create_with(&p, &holder) {
            Ok(()) => return Ok(Acquired::Claimed(Claim::start(p, holder, lease))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let Some(h) = read(&p) else {
                    // Claims are created whole, so an empty or unreadable one was left by something else (an
                    // older twoway, a full disk, a hand edit): held while it is young, reclaimed after that.
                    let age = std::fs::metadata(&p)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    let Some(age) = age.filter(|a| *a > UNREADABLE_GRACE.min(lease)) else {
                        return Ok(Acquired::Held(Holder {
                            host: "?".into(),
                            pid: 0,
                            token: 0,
                            started: 0.0,
                            heartbeat: now(),
                        }));
                    };
                    if let Reclaimed::Removed = reclaim(&p, |x| x.is_none()) {
                        log(format!("reclaimed {}: the claim was unreadable for {} s", p.display(), age.as_secs()));
                    }
                    continue;
                };
                let Some(why) = h.stale(lease) else { return Ok(Acquired::Held(h)) };
                match reclaim(&p, |x| x.is_some_and(|x| x.same(&h))) {
                    Reclaimed::Removed => {
                        log(format!("reclaimed {}: the claim of {} was stale ({why})", p.display(), h.describe()))
                    }
                    Reclaimed::Gone => {}
                    // A fresh claim replaced the stale one in between.
                    Reclaimed::Replaced => return Ok(Acquired::Held(read(&p).unwrap_or(h))),
                }
            }
            Err(e) => return Err(e).with_context(|| format!("{}: cannot create the claim", p.display())),
        }
    }
    Ok(Acquired::Held(read(&p).unwrap_or_else(Holder::mine)))
}

impl Claim {
    fn start(path: PathBuf, holder: Holder, lease: Duration) -> Claim {
        let stop = Arc::new(AtomicBool::new(false));
        let every = (lease / 4).clamp(Duration::from_millis(200), Duration::from_secs(60));
        let (p, mut h, s) = (path.clone(), holder.clone(), stop.clone());
        let beat = std::thread::spawn(move || {
            let mut waited = Duration::ZERO;
            while !s.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
                waited += Duration::from_millis(100);
                if waited < every {
                    continue;
                }
                waited = Duration::ZERO;
                // Only while the claim is still ours.
                match read(&p) {
                    Some(cur) if cur.same(&h) => {
                        h.heartbeat = now();
                        let _ = write_holder(&p, &h);
                    }
                    _ => break,
                }
            }
        });
        Claim { path, holder, stop, beat: Some(beat) }
    }

    /// Stops the heartbeat and removes the claim (if it is still this process's).
    pub fn release(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.beat.take() {
            let _ = t.join();
        }
        if read(&self.path).is_some_and(|h| h.same(&self.holder)) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Removes the temporary files (`.<name>.tmp<pid>`, claim leftovers) of processes of this host that are
/// gone, under `root`; returns how many.
pub fn sweep_temporaries(root: &Path) -> usize {
    let mut removed = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = e.file_name().to_string_lossy().to_string();
            let pid = name
                .rsplit_once(".tmp")
                .or_else(|| name.rsplit_once(".reclaim"))
                .and_then(|(_, pid)| pid.parse::<u32>().ok());
            if let Some(pid) = pid {
                if pid != std::process::id() && !pid_alive(pid) && std::fs::remove_file(&p).is_ok() {
                    removed += 1;
                }
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_exclusive_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = |_: String| {};
        let Acquired::Claimed(c) = acquire(dir.path(), 3, Duration::from_secs(600), &mut log).unwrap() else {
            panic!("first claim refused")
        };
        let Acquired::Held(h) = acquire(dir.path(), 3, Duration::from_secs(600), &mut log).unwrap() else {
            panic!("second claim granted")
        };
        assert_eq!(h.pid, std::process::id());
        c.release();
        assert!(!path(dir.path(), 3).exists());
        assert!(matches!(acquire(dir.path(), 3, Duration::from_secs(600), &mut log).unwrap(), Acquired::Claimed(_)));
    }

    #[test]
    fn stale_claims_are_reclaimed_and_logged() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = Vec::new();
        // A dead process of this host (pid 4194304 is above Linux's pid_max).
        let dead = Holder { host: hostname(), pid: 4_194_304, token: 1, started: 1.0, heartbeat: now() };
        write_holder(&path(dir.path(), 0), &dead).unwrap();
        // Another host whose heartbeat stopped an hour ago, and one that beat a second ago.
        let old = Holder { host: "elsewhere".into(), pid: 1, token: 2, started: 1.0, heartbeat: now() - 3600.0 };
        write_holder(&path(dir.path(), 1), &old).unwrap();
        let fresh = Holder { host: "elsewhere".into(), pid: 1, token: 3, started: 1.0, heartbeat: now() - 1.0 };
        write_holder(&path(dir.path(), 2), &fresh).unwrap();
        let lease = Duration::from_secs(600);
        let mut log = |l: String| lines.push(l);
        assert!(matches!(acquire(dir.path(), 0, lease, &mut log).unwrap(), Acquired::Claimed(_)));
        assert!(matches!(acquire(dir.path(), 1, lease, &mut log).unwrap(), Acquired::Claimed(_)));
        assert!(matches!(acquire(dir.path(), 2, lease, &mut log).unwrap(), Acquired::Held(_)));
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("process 4194304 of this host is gone"), "{lines:?}");
        assert!(lines[1].contains("heartbeat 3600 s old"), "{lines:?}");
    }

    #[test]
    fn an_unreadable_claim_is_held_while_young_and_reclaimed_when_old() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), 0);
        std::fs::write(&p, "").unwrap();
        let lease = Duration::from_secs(600);
        let mut lines = Vec::new();
        assert!(matches!(acquire(dir.path(), 0, lease, &mut |l| lines.push(l)).unwrap(), Acquired::Held(_)));
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(120)).unwrap();
        drop(f);
        let Acquired::Claimed(c) = acquire(dir.path(), 0, lease, &mut |l| lines.push(l)).unwrap() else {
            panic!("an old empty claim was not reclaimed")
        };
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("unreadable for 120 s"), "{lines:?}");
        assert_eq!(read(&p).unwrap().pid, std::process::id(), "the new claim is written whole");
        c.release();
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn the_heartbeat_refreshes_the_claim() {
        let dir = tempfile::tempdir().unwrap();
        let Acquired::Claimed(c) = acquire(dir.path(), 0, Duration::from_millis(800), &mut |_| {}).unwrap() else {
            panic!()
        };
        let first = read(&path(dir.path(), 0)).unwrap().heartbeat;
        std::thread::sleep(Duration::from_millis(700));
        let later = read(&path(dir.path(), 0)).unwrap().heartbeat;
        assert!(later > first, "{first} -> {later}");
        // A claim with a start time that JSON does not round-trip exactly is still released.
        drop(c);
        assert!(!path(dir.path(), 0).exists());
    }

    #[test]
    fn temporaries_of_dead_processes_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/.seed0.json.tmp4194304"), "x").unwrap();
        let mine = dir.path().join(format!("a/.seed1.json.tmp{}", std::process::id()));
        std::fs::write(&mine, "x").unwrap();
        std::fs::write(dir.path().join("a/seed2.json"), "x").unwrap();
        assert_eq!(sweep_temporaries(dir.path()), 1);
        assert!(mine.exists() && dir.path().join("a/seed2.json").exists());
    }
}
