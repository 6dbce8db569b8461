//! [`PeerStore`]: opening the database, the schema check, and the read/write primitives every
//! book is built on.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use op_p2p_api::Clock;
use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, DB, DEFAULT_COLUMN_FAMILY_NAME, Env, FlushOptions,
    IteratorMode, WriteBatch, WriteOptions,
};
use tracing::{debug, warn};

use crate::{
    config::Config,
    error::{Error, RecordError},
    gc::GcCursor,
    limits,
    records::Record,
    schema::{Book, META_CF, SCHEMA_VERSION, SCHEMA_VERSION_KEY},
};

/// The tracing target of everything the store logs.
pub(crate) const TARGET: &str = "p2p::peerstore";

/// Where an in-memory store lives inside its private in-memory filesystem: the system temp
/// directory. The rocksdb crate creates the path on the real filesystem before opening
/// (whatever the `Env`), so it must be a directory that already exists, or nothing would stop
/// an in-memory store from leaving an empty directory behind; and RocksDB's in-memory `Env`
/// does not accept the root `/` itself. Every file RocksDB writes goes to the in-memory `Env`.
fn memory_path() -> PathBuf {
    std::env::temp_dir()
}

/// The peer store: every book in one RocksDB database.
///
/// Cheap to clone (an `Arc` inside), `Send + Sync`. Every write is in RocksDB's write-ahead
/// log when the call returns, so it survives the process crashing or being killed; with
/// [`Config::with_sync_writes`] it is also fsynced, and survives power loss. All expiry, decay
/// and GC read the store's [`Clock`].
#[derive(Clone, Debug)]
pub struct PeerStore {
    inner: Arc<Inner>,
}

/// Where the database lives.
#[derive(Debug)]
enum Location {
    Disk(PathBuf),
    Memory,
}

struct Inner {
    db: DB,
    config: Config,
    clock: Arc<dyn Clock>,
    location: Location,
    /// Held by every write and by GC while it examines and deletes a chunk of records, so a
    /// record GC saw as expired cannot be rewritten between GC's read and its delete, and
    /// read-modify-write updates (scores, addresses) do not lose concurrent updates.
    write_lock: Mutex<()>,
    /// Where the next GC run resumes; also serialises GC runs.
    gc_cursor: Mutex<GcCursor>,
    decode_failures: AtomicU64,
    /// Every column family the database was opened with, for [`PeerStore::flush`].
    cf_names: Vec<String>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("location", &self.location)
            .field("config", &self.config)
            .field("clock", &self.clock)
            .field("decode_failures", &self.decode_failures)
            .finish_non_exhaustive()
    }
}

impl PeerStore {
    /// Opens (creating if missing) the store in the directory `path`.
    ///
    /// Fails with [`Error::IncompatibleSchema`] if the directory holds a store of another
    /// schema version, or a RocksDB database with records but no version (not a peer store).
    /// Records that do not decode never stop the store from opening.
    pub fn open(
        path: impl AsRef<Path>,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let path = path.as_ref();
        Self::open_at(
            path,
            None,
            Location::Disk(path.to_path_buf()),
            config,
            clock,
        )
    }

    /// op-node's `p2p.peerstore.path=memory`: RocksDB on its in-memory `Env`, nothing on disk.
    /// Everything is lost when the last clone of the store is dropped.
    pub fn open_in_memory(config: Config, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let env = Env::mem_env()?;
        Self::open_at(&memory_path(), Some(&env), Location::Memory, config, clock)
    }

    fn open_at(
        path: &Path,
        env: Option<&Env>,
        location: Location,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        // One bounded block cache for every column family, `default` included: see `limits`.
        let cache = limits::block_cache(&config);
        let opts = limits::database_options(env);

        // RocksDB refuses to open a database without naming every column family it has, so
        // column families this build does not know (a newer schema's) are opened too: the
        // schema check below then reports the version mismatch instead of RocksDB's error.
        // Listing fails when there is no database yet; opening then creates one.
        let existing = DB::list_cf(&opts, path).unwrap_or_default();
        let mut names: Vec<String> = std::iter::once(META_CF)
            .chain(Book::ALL.iter().map(|book| book.cf_name()))
            .map(str::to_owned)
            .collect();
        let reserved = names.len();
        for name in config.extra_column_families() {
            if name == DEFAULT_COLUMN_FAMILY_NAME || names[..reserved].contains(name) {
                return Err(Error::ReservedColumnFamily(name.clone()));
            }
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        for name in existing {
            if name != DEFAULT_COLUMN_FAMILY_NAME && !names.contains(&name) {
                names.push(name);
            }
        }
        // `default` too: the rocksdb crate would add it with RocksDB's own options (and its own
        // 32 MiB cache) otherwise.
        let descriptors = std::iter::once(DEFAULT_COLUMN_FAMILY_NAME)
            .chain(names.iter().map(String::as_str))
            .map(|name| ColumnFamilyDescriptor::new(name, limits::column_family_options(&cache)));
        let db = DB::open_cf_descriptors(&opts, path, descriptors)?;
        check_schema(&db, &names)?;
        debug!(target: TARGET, ?location, "peer store open");

        Ok(Self {
            inner: Arc::new(Inner {
                db,
                config,
                clock,
                location,
                write_lock: Mutex::new(()),
                gc_cursor: Mutex::new(GcCursor::default()),
                decode_failures: AtomicU64::new(0),
                cf_names: names,
            }),
        })
    }

    /// The store's clock: unix seconds.
    pub fn now(&self) -> u64 {
        self.inner.clock.unix_time()
    }

    /// The directory the store lives in; `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        match &self.inner.location {
            Location::Disk(path) => Some(path),
            Location::Memory => None,
        }
    }

    /// The store's configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// How many stored records have failed to decode (and been skipped) since the store was
    /// opened; each is also logged at `warn`.
    pub fn decode_failures(&self) -> u64 {
        self.inner.decode_failures.load(Ordering::Relaxed)
    }

    /// The RocksDB database, for the [extra column families](Config::with_extra_column_families)
    /// of a caller that keeps its own data next to the peer store's. The books' column families
    /// are the store's alone: writing them behind its back breaks its invariants.
    pub fn db(&self) -> &DB {
        &self.inner.db
    }

    /// Write options matching the store's own writes ([`Config::with_sync_writes`]), for
    /// callers writing their extra column families with the same durability.
    pub fn write_options(&self) -> WriteOptions {
        // The WAL stays on (the default): a returned write has been handed to the operating
        // system, so it survives a process crash. `sync` adds an fsync for power loss.
        let mut opts = WriteOptions::default();
        opts.set_sync(self.inner.config.sync_writes());
        opts
    }

    /// Flushes every column family's memtable to SST files and syncs the write-ahead log: the
    /// clean-shutdown step, so the next open replays no log and nothing depends on the page
    /// cache. Writes are already crash-safe without it (see the crate docs on durability). An
    /// in-memory store has nothing to flush.
    pub fn flush(&self) -> Result<(), Error> {
        if matches!(self.inner.location, Location::Memory) {
            return Ok(());
        }
        let db = &self.inner.db;
        db.flush_wal(true)?;
        let cfs: Vec<&ColumnFamily> = self
            .inner
            .cf_names
            .iter()
            .filter_map(|n| db.cf_handle(n))
            .collect();
        db.flush_cfs_opt(&cfs, &FlushOptions::default())?;
        Ok(())
    }

    /// Every column family the database was opened with but `default`.
    #[cfg(test)]
    pub(crate) fn cf_names(&self) -> &[String] {
        &self.inner.cf_names
    }

    // --- primitives the books use ---

    pub(crate) fn cf(&self, book: Book) -> Result<&ColumnFamily, Error> {
        self.inner
            .db
            .cf_handle(book.cf_name())
            .ok_or_else(|| Error::MissingColumnFamily(book.cf_name()))
    }

    /// Serialises writers; see [`Inner::write_lock`]. The lock guards no data, so a panic
    /// while it was held leaves nothing inconsistent and poisoning is ignored.
    pub(crate) fn write_guard(&self) -> MutexGuard<'_, ()> {
        self.inner
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn gc_cursor(&self) -> MutexGuard<'_, GcCursor> {
        // A panic mid-GC leaves at worst a stale cursor, which only moves where GC resumes.
        self.inner
            .gc_cursor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `record` under `key`. The caller holds [`Self::write_guard`].
    pub(crate) fn put_record<R: Record>(
        &self,
        book: Book,
        key: &[u8],
        record: &R,
    ) -> Result<(), Error> {
        let cf = self.cf(book)?;
        self.inner
            .db
            .put_cf_opt(cf, key, record.encode(), &self.write_options())?;
        Ok(())
    }

    /// Deletes `key`. The caller holds [`Self::write_guard`].
    pub(crate) fn delete(&self, book: Book, key: &[u8]) -> Result<(), Error> {
        let cf = self.cf(book)?;
        self.inner
            .db
            .delete_cf_opt(cf, key, &self.write_options())?;
        Ok(())
    }

    /// Applies `batch` atomically. The caller holds [`Self::write_guard`].
    pub(crate) fn write_batch(&self, batch: WriteBatch) -> Result<(), Error> {
        if !batch.is_empty() {
            self.inner.db.write_opt(batch, &self.write_options())?;
        }
        Ok(())
    }

    /// Reads the record under `key`; one that does not decode is reported and read as absent.
    pub(crate) fn get<R: Record>(&self, book: Book, key: &[u8]) -> Result<Option<R>, Error> {
        let cf = self.cf(book)?;
        let Some(value) = self.inner.db.get_pinned_cf(cf, key)? else {
            return Ok(None);
        };
        match R::decode(&value) {
            Ok(record) => Ok(Some(record)),
            Err(error) => {
                self.report_corrupt(book, key, &error);
                Ok(None)
            }
        }
    }

    /// Every record of `book` whose key and value decode, mapped through `keep`; the others
    /// are reported and skipped.
    pub(crate) fn scan<K, R: Record, T>(
        &self,
        book: Book,
        decode_key: fn(&[u8]) -> Result<K, RecordError>,
        mut keep: impl FnMut(K, R) -> Option<T>,
    ) -> Result<Vec<T>, Error> {
        let cf = self.cf(book)?;
        let mut out = Vec::new();
        for item in self.inner.db.iterator_cf(cf, IteratorMode::Start) {
            let (key, value) = item?;
            match decode_key(&key).and_then(|k| R::decode(&value).map(|r| (k, r))) {
                Ok((k, r)) => out.extend(keep(k, r)),
                Err(error) => self.report_corrupt(book, &key, &error),
            }
        }
        Ok(out)
    }

    /// Logs and counts a record that does not decode.
    pub(crate) fn report_corrupt(&self, book: Book, key: &[u8], error: &RecordError) {
        self.inner.decode_failures.fetch_add(1, Ordering::Relaxed);
        warn!(
            target: TARGET,
            book = book.cf_name(),
            key = %HexBytes(key),
            %error,
            "skipping a stored record that does not decode"
        );
    }
}

/// Whether a record last written at `last_update` is still alive after `retention`: op-node
/// treats a record as gone once `last_update + retention < now`.
pub(crate) fn retained(last_update: u64, retention: Duration, now: u64) -> bool {
    last_update.saturating_add(retention.as_secs()) >= now
}

/// Checks the stored schema version; a database with no version and no records is new, and is
/// stamped with [`SCHEMA_VERSION`].
fn check_schema(db: &DB, names: &[String]) -> Result<(), Error> {
    let meta = db
        .cf_handle(META_CF)
        .ok_or(Error::MissingColumnFamily(META_CF))?;
    if let Some(value) = db.get_pinned_cf(meta, SCHEMA_VERSION_KEY)? {
        let bytes: [u8; 4] = value
            .as_ref()
            .try_into()
            .map_err(|_| Error::CorruptSchemaVersion { len: value.len() })?;
        let found = u32::from_le_bytes(bytes);
        if found != SCHEMA_VERSION {
            return Err(Error::IncompatibleSchema {
                found,
                expected: SCHEMA_VERSION,
            });
        }
        return Ok(());
    }
    // No version: new, unless something is already stored (then it is not our database, or
    // it predates versioning; either way it is not readable as this schema).
    let mut has_records = db.iterator(IteratorMode::Start).next().is_some();
    for name in names {
        if has_records {
            break;
        }
        if let Some(cf) = db.cf_handle(name) {
            has_records = db.iterator_cf(cf, IteratorMode::Start).next().is_some();
        }
    }
    if has_records {
        return Err(Error::IncompatibleSchema {
            found: 0,
            expected: SCHEMA_VERSION,
        });
    }
    let mut opts = WriteOptions::default();
    // Once per store: make the stamp durable even against power loss.
    opts.set_sync(true);
    db.put_cf_opt(
        meta,
        SCHEMA_VERSION_KEY,
        SCHEMA_VERSION.to_le_bytes(),
        &opts,
    )?;
    Ok(())
}

/// Hex display of a key for logs.
struct HexBytes<'a>(&'a [u8]);

impl fmt::Display for HexBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}
