//! TensorBoard event files, written by hand: a file `events.out.tfevents.<time>.<host>.<pid>.twoway` of
//! TFRecord records (u64 length, its masked CRC32C, the bytes, their masked CRC32C; all little-endian),
//! each the protobuf of an `Event` (wall_time = 1, step = 2, file_version = 3, summary = 5) whose `Summary`
//! holds one `Value` (tag = 1, simple_value = 2). The first record names the file version, as TensorBoard
//! expects. No crate fits without pulling in TensorFlow's protobufs, and the subset is small. Tested below
//! (CRC32C's check value, the framing) and with TensorBoard's own reader in `tests/cli_run.rs`.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78).
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

/// TFRecord's masked CRC: rotated right by 15 bits, plus a constant.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let c = crc32c(bytes);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One TFRecord record around `data`.
pub fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited protobuf field.
fn bytes_field(field: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint(field << 3 | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// An `Event` protobuf: wall time, step, and a file version or one scalar.
fn event(wall_time: f64, step: i64, what: Payload) -> Vec<u8> {
    let mut e = Vec::new();
    varint(1 << 3 | 1, &mut e);
    e.extend_from_slice(&wall_time.to_le_bytes());
    varint(2 << 3, &mut e);
    varint(step as u64, &mut e);
    match what {
        Payload::Version(v) => bytes_field(3, v.as_bytes(), &mut e),
        Payload::Scalar(tag, value) => {
            let mut v = Vec::new();
            bytes_field(1, tag.as_bytes(), &mut v);
            varint(2 << 3 | 5, &mut v);
            v.extend_from_slice(&value.to_le_bytes());
            let mut summary = Vec::new();
            bytes_field(1, &v, &mut summary);
            bytes_field(5, &summary, &mut e);
        }
    }
    e
}

enum Payload<'a> {
    Version(&'a str),
    Scalar(&'a str, f32),
}

/// An event file being written; each call appends whole records and flushes them, so a running grid can be
/// watched.
pub struct EventWriter {
    file: std::fs::File,
    path: PathBuf,
}

impl EventWriter {
    /// A new event file in `dir` (created), starting with its file-version record.
    pub fn create(dir: &Path) -> Result<EventWriter> {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
        let now = crate::host::now();
        let name =
            format!("events.out.tfevents.{}.{}.{}.twoway", now as u64, crate::host::hostname(), std::process::id());
        let path = dir.join(name);
        let file = std::fs::File::create(&path).with_context(|| format!("{}: cannot create", path.display()))?;
        let mut w = EventWriter { file, path };
        w.write(&event(now, 0, Payload::Version("brain.Event:2")))?;
        Ok(w)
    }

    /// Appends the scalar `value` of `tag` at `step`.
    pub fn scalar(&mut self, tag: &str, step: i64, value: f64) -> Result<()> {
        self.write(&event(crate::host::now(), step, Payload::Scalar(tag, value as f32)))
    }

    fn write(&mut self, data: &[u8]) -> Result<()> {
        self.file
            .write_all(&record(data))
            .and_then(|()| self.file.flush())
            .with_context(|| format!("{}: cannot write", self.path.display()))
    }
}

/// Removes the event files of `dir` (a cell's run restarted from its checkpoint rewrites its points).
pub fn clear(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("events.out.tfevents.") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_has_its_check_value_and_records_are_framed() {
        // The standard check value of CRC-32C: the CRC of the ASCII digits 1 to 9.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
        let r = record(b"abc");
        assert_eq!(r.len(), 8 + 4 + 3 + 4);
        assert_eq!(&r[..8], &3u64.to_le_bytes());
        assert_eq!(&r[12..15], b"abc");
        assert_eq!(&r[15..], &masked_crc(b"abc").to_le_bytes());
    }

    #[test]
    fn scalar_events_encode_their_fields() {
        let e = event(1.5, 300, Payload::Scalar("Loss/train", 0.25));
        // wall_time (field 1, fixed64), step (field 2, varint 300 = ac 02), summary (field 5).
        assert_eq!(&e[..9], &[&[0x09u8][..], &1.5f64.to_le_bytes()].concat()[..]);
        assert_eq!(&e[9..12], &[0x10, 0xac, 0x02]);
        assert_eq!(e[12], 0x2a);
        let tail = &e[e.len() - 5..];
        assert_eq!(tail, &[&[0x15u8][..], &0.25f32.to_le_bytes()].concat()[..]);
    }
}
