//! The file operations behind the log's writes. They are behind a trait so
//! that tests can make any of them fail as a full or broken disk would
//! (`ENOSPC`, `EIO`) and check what the log then promises.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use parking_lot::Mutex;

/// What the persister does to segment files.
pub trait Disk: Send + Sync + 'static {
    /// Opens (creating if needed) a segment file for writing.
    fn open(&self, path: &Path) -> io::Result<File>;
    /// Allocates the file's blocks up to `size` bytes.
    fn allocate(&self, file: &File, size: u64) -> io::Result<()>;
    /// Writes all of `data` at `offset`.
    fn write_at(&self, file: &File, data: &[u8], offset: u64) -> io::Result<()>;
    /// `fdatasync`.
    fn sync(&self, file: &File) -> io::Result<()>;
    /// Makes the directory's entries (created or removed files) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The real file system.
pub struct FileDisk;

impl Disk for FileDisk {
    fn open(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
    }

    fn allocate(&self, file: &File, size: u64) -> io::Result<()> {
        rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, size)?;
        Ok(())
    }

    fn write_at(&self, file: &File, data: &[u8], offset: u64) -> io::Result<()> {
        file.write_all_at(data, offset)
    }

    fn sync(&self, file: &File) -> io::Result<()> {
        file.sync_data()
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// An operation of [`Disk`] that [`FailingDisk`] can make fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskOp {
    Allocate,
    Write,
    Sync,
}

/// For fault-injection tests: the real file system, except that one
/// operation fails with an OS error while armed. A failing sync also does
/// what Linux may do after a failed writeback: the pages written since the
/// last good sync are gone (here: zeroed in the file), so only a store that
/// writes them again keeps them.
#[derive(Default)]
pub struct FailingDisk {
    failing: Mutex<Option<(DiskOp, i32)>>,
    since_sync: Mutex<Vec<(File, u64, usize)>>,
    dir_syncs: std::sync::atomic::AtomicU32,
}

impl FailingDisk {
    /// From now on `op` fails with `errno` (`libc::ENOSPC`, `libc::EIO`).
    pub fn fail(&self, op: DiskOp, errno: i32) {
        *self.failing.lock() = Some((op, errno));
    }

    /// Everything works again.
    pub fn heal(&self) {
        *self.failing.lock() = None;
    }

    /// Directory fsyncs so far.
    pub fn dir_syncs(&self) -> u32 {
        self.dir_syncs.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn check(&self, op: DiskOp) -> io::Result<()> {
        match *self.failing.lock() {
            Some((failing, errno)) if failing == op => Err(io::Error::from_raw_os_error(errno)),
            _ => Ok(()),
        }
    }
}

impl Disk for FailingDisk {
    fn open(&self, path: &Path) -> io::Result<File> {
        FileDisk.open(path)
    }

    fn allocate(&self, file: &File, size: u64) -> io::Result<()> {
        self.check(DiskOp::Allocate)?;
        FileDisk.allocate(file, size)
    }

    fn write_at(&self, file: &File, data: &[u8], offset: u64) -> io::Result<()> {
        self.check(DiskOp::Write)?;
        FileDisk.write_at(file, data, offset)?;
        self.since_sync
            .lock()
            .push((file.try_clone()?, offset, data.len()));
        Ok(())
    }

    fn sync(&self, file: &File) -> io::Result<()> {
        if let Err(e) = self.check(DiskOp::Sync) {
            for (f, offset, len) in self.since_sync.lock().drain(..) {
                f.write_all_at(&vec![0; len], offset)?;
            }
            return Err(e);
        }
        FileDisk.sync(file)?;
        self.since_sync.lock().clear();
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.dir_syncs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        FileDisk.sync_dir(dir)
    }
}

/// Opens segment `path` with at least `size` bytes allocated. Says whether
/// it synced the directory (it does after creating the file).
pub(super) fn open_segment(disk: &dyn Disk, dir: &Path, path: &Path, size: u32) -> io::Result<(File, bool)> {
    let file = disk.open(path)?;
    let created = file.metadata()?.len() < u64::from(size);
    if created {
        // Allocate the blocks now, so that appends never change the file's
        // size and fdatasync has no metadata to flush. On a full disk this
        // is where the log first finds out.
        disk.allocate(&file, u64::from(size))?;
        // The new file's name must be durable too, or a crash after the
        // first confirm could leave a synced segment no directory entry.
        disk.sync_dir(dir)?;
    }
    Ok((file, created))
}
