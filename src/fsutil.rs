//! Crash-safe file replacement: write a temp file in the same directory, fsync it,
//! rename it over the target, fsync the directory.
//!
//! A reader (or a process killed at any instant) sees either the old file or the new
//! one, never a torn mix. The temp file lives in the target's directory because a
//! rename across file systems is not atomic (EXDEV).
//!
//! Reads go through [`open_regular`]: a FIFO, socket, device or directory in place of a file
//! the program reads would block it (a FIFO's open waits for a writer) or feed it garbage, so
//! it is opened without blocking, checked with fstat and refused unless it is a regular file.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

/// Open `path` for reading only if it is a regular file (after following symlinks).
///
/// The open itself never blocks (O_NONBLOCK, which has no effect on regular files); anything
/// else than a regular file is an `InvalidInput` error saying what it is. A missing file keeps
/// its `NotFound` kind so callers can tell "absent" from "unusable".
pub fn open_regular(path: &Path) -> io::Result<File> {
    let mut opts = fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path)?;
    let ft = file.metadata()?.file_type();
    if ft.is_file() {
        return Ok(file);
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({})", kind_name(&ft)),
    ))
}

/// Read the whole of a regular file (see [`open_regular`]).
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = open_regular(path)?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Read a regular file as UTF-8 text (see [`open_regular`]).
pub fn read_regular_to_string(path: &Path) -> io::Result<String> {
    let mut f = open_regular(path)?;
    let mut s = String::new();
    f.read_to_string(&mut s)?;
    Ok(s)
}

fn kind_name(ft: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_block_device() || ft.is_char_device() {
            return "a device";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// Atomically replace `path` with `bytes`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Atomically replace `path` with what `fill` writes into the temp file.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    replace(path, fill, true)
}

/// Atomically replace `path` with `bytes` without the two fsyncs: a reader, or a process
/// killed at any instant, still sees the old file or the new one (the page cache outlives a
/// killed process); only a power cut may lose the newest replacement. For the simulated
/// venue's book, which stands in for a remote broker's records: our own state is always
/// fsynced, and reconciliation before trading catches a venue that lost its last change.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, |f| f.write_all(bytes), false)
}

fn replace(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
    durable: bool,
) -> io::Result<()> {
    let dir = parent_dir(path);
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .suffix(".partial")
        .tempfile_in(dir)?;
    fill(tmp.as_file_mut())?;
    if durable {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    if durable { sync_dir(dir) } else { Ok(()) }
}

/// Remove the temp files [`write_atomic`] leaves when a process is killed mid-write
/// (`.tmp-*.partial` in `dir`, not recursive). Only call while no other writer can be
/// running in `dir` (the state lock). Returns how many were removed; a directory that does
/// not exist has none.
pub fn remove_partials(dir: &Path) -> usize {
    let Ok(rd) = fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(".tmp-") && n.ends_with(".partial"))
                && e.file_type().is_ok_and(|t| t.is_file())
        })
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

/// fsync a directory so a rename inside it survives a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Make the data of `files` (all in `dir`'s file system) durable with one barrier: on Linux
/// one `syncfs(2)` of that file system (one journal commit instead of one per file; it reports
/// writeback errors since Linux 5.8), elsewhere an fsync of each file.
pub fn sync_files_of_dir<'a>(dir: &Path, files: impl Iterator<Item = &'a File>) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let _ = files;
        let d = File::open(dir)?;
        // SAFETY: `d` is an open descriptor for the duration of the call.
        if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        for f in files {
            f.sync_all()?;
        }
        Ok(())
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Free space in bytes available to an unprivileged user on the file system holding `path`.
#[cfg(unix)]
pub fn free_disk_bytes(path: &Path) -> io::Result<u64> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    let mut buf = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a valid NUL-terminated path and `buf` points to writable memory of
    // the exact type libc declares for statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), buf.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let s = unsafe { buf.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field widths differ between platforms
    Ok((s.f_bavail as u64).saturating_mul(s.f_frsize as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_or_directory_is_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().expect("utf8")).expect("cstr");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_regular(&fifo).expect_err("fifo");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = read_regular(dir.path()).expect_err("dir");
        assert!(e.to_string().contains("directory"), "{e}");
        let e = read_regular(&dir.path().join("absent")).expect_err("absent");
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let f = dir.path().join("f");
        fs::write(&f, b"ok").expect("write");
        assert_eq!(read_regular(&f).expect("file"), b"ok");
    }
}
