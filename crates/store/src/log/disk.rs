//! The file operations behind the log's writes. They are behind a trait so
//! that tests can make any of them fail as a full or broken disk would
//! (`ENOSPC`, `EIO`) and check what the log then promises.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

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

/// Opens segment `path` with at least `size` bytes allocated.
pub(super) fn open_segment(disk: &dyn Disk, dir: &Path, path: &Path, size: u32) -> io::Result<File> {
    let file = disk.open(path)?;
    if file.metadata()?.len() < u64::from(size) {
        // Allocate the blocks now, so that appends never change the file's
        // size and fdatasync has no metadata to flush. On a full disk this
        // is where the log first finds out.
        disk.allocate(&file, u64::from(size))?;
        // The new file's name must be durable too, or a crash after the
        // first confirm could leave a synced segment no directory entry.
        disk.sync_dir(dir)?;
    }
    Ok(file)
}
