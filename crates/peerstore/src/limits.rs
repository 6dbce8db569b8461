//! The RocksDB options that bound what the database costs a long-running node: memory, open
//! file descriptors and write-ahead log, whatever the amount of data stored.
//!
//! A node keeps its payload store in this database too, so the data grows with the chain it
//! keeps (the payload store prunes below a retention; until then, and up to it, the database
//! holds gigabytes). Without these options RocksDB's costs grow with it: every SST file keeps a
//! descriptor and its index and filter blocks in memory outside any cache, and every column
//! family has its own default block cache (32 MiB each, sixteen of them).

use rocksdb::{BlockBasedOptions, Cache, Env, LogLevel, Options};

use crate::config::Config;

/// Per-column-family memtable size: the store is small, and RocksDB's 64 MiB default times
/// a dozen column families would be most of a small node's memory.
const WRITE_BUFFER_SIZE: usize = 4 << 20;
/// Total write-ahead-log size after which RocksDB flushes the column families holding the
/// oldest log, so a rarely written book does not pin old logs forever.
const MAX_TOTAL_WAL_SIZE: u64 = 32 << 20;

/// The most files RocksDB keeps open; it also sizes the table cache (RocksDB reserves 10 of
/// them for other files, so 54 SST readers). With index and filter blocks in the block cache
/// (below) a table reader is small, so evicting one costs a reopen and a footer read, not
/// memory kept: 64 is room for every SST of a store holding a day of small blocks (~40 files
/// of 64 MiB at 30 KB a second) and leaves most of a default 1024-descriptor limit to peer
/// connections, discovery and the RPC server. (RocksDB clips anything below 20 up to 20.)
pub(crate) const MAX_OPEN_FILES: i32 = 64;

/// Options of the database: limits and logging. (Its column family options are
/// [`column_family_options`], `default` included.)
pub(crate) fn database_options(env: Option<&Env>) -> Options {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_max_total_wal_size(MAX_TOTAL_WAL_SIZE);
    opts.set_log_level(LogLevel::Warn);
    opts.set_keep_log_file_num(2);
    opts.set_max_log_file_size(1 << 20);
    opts.set_max_open_files(MAX_OPEN_FILES);
    if let Some(env) = env {
        opts.set_env(env);
    }
    opts
}

/// Options of one column family: a small memtable, and tables read through the one shared
/// `cache` with their index and filter blocks inside it, so those count against the cache's
/// capacity instead of growing with the number of SST files.
pub(crate) fn column_family_options(cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_cache_index_and_filter_blocks(true);
    // Level 0 is a handful of recently flushed files, read by every lookup: keep their index
    // and filter blocks pinned (RocksDB's recommended pairing with the option above), so a
    // burst of payload reads cannot evict them. They are freed with their table reader.
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    let mut opts = Options::default();
    opts.set_write_buffer_size(WRITE_BUFFER_SIZE);
    opts.set_block_based_table_factory(&table);
    opts
}

/// The block cache every column family of one store shares, of the configured capacity.
pub(crate) fn block_cache(config: &Config) -> Cache {
    Cache::new_lru_cache(config.block_cache_size())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use op_p2p_api::ManualClock;
    use rocksdb::properties::{BLOCK_CACHE_CAPACITY, BLOCK_CACHE_USAGE};

    use super::*;
    use crate::{PeerStore, config::DEFAULT_BLOCK_CACHE_SIZE};

    const EXTRA: &str = "extra";

    fn config() -> Config {
        Config::default().with_extra_column_families([EXTRA])
    }

    /// Every column family's block cache capacity and usage, `default` included.
    fn cache_properties(store: &PeerStore) -> Vec<(u64, u64)> {
        let db = store.db();
        let mut out = vec![(
            db.property_int_value(BLOCK_CACHE_CAPACITY)
                .unwrap()
                .unwrap(),
            db.property_int_value(BLOCK_CACHE_USAGE).unwrap().unwrap(),
        )];
        for name in store.cf_names() {
            let cf = db.cf_handle(name).unwrap();
            out.push((
                db.property_int_value_cf(cf, BLOCK_CACHE_CAPACITY)
                    .unwrap()
                    .unwrap(),
                db.property_int_value_cf(cf, BLOCK_CACHE_USAGE)
                    .unwrap()
                    .unwrap(),
            ));
        }
        out
    }

    /// Writes and flushes a few SST files in the extra column family and reads them back, so
    /// the cache holds their blocks.
    fn fill_and_read(store: &PeerStore) {
        let db = store.db();
        let cf = db.cf_handle(EXTRA).unwrap();
        for round in 0..3u32 {
            for i in 0..200u32 {
                let key = [round.to_be_bytes(), i.to_be_bytes()].concat();
                db.put_cf(cf, key, [7u8; 512]).unwrap();
            }
            db.flush_cf(cf).unwrap();
        }
        for i in 0..200u32 {
            let key = [1u32.to_be_bytes(), i.to_be_bytes()].concat();
            assert!(db.get_pinned_cf(cf, key).unwrap().is_some());
        }
    }

    /// One cache of the configured capacity behind every column family: each reports the same
    /// capacity and, after reads in one of them, the same non-zero usage.
    #[test]
    fn every_column_family_shares_one_bounded_block_cache() {
        let dir = tempfile::tempdir().unwrap();
        let size = 3 << 20;
        let store = PeerStore::open(
            dir.path(),
            config().with_block_cache_size(size),
            Arc::new(ManualClock::new(0)),
        )
        .unwrap();
        fill_and_read(&store);
        let props = cache_properties(&store);
        assert_eq!(props.len(), 1 + 1 + 11 + 1, "default, meta, books, extra");
        let usage = props[0].1;
        assert!(usage > 0, "the reads went through the cache");
        for (capacity, used) in props {
            assert_eq!(capacity, size as u64);
            assert_eq!(used, usage, "one cache, not one per column family");
        }
    }

    /// The options RocksDB persisted (its `OPTIONS-*` file) are ours: the open-file cap, and
    /// index and filter blocks in the (pinned for L0) block cache for every column family.
    #[test]
    fn the_persisted_options_cap_files_and_cache_index_and_filter_blocks() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store =
                PeerStore::open(dir.path(), config(), Arc::new(ManualClock::new(0))).unwrap();
            fill_and_read(&store);
        }
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("OPTIONS-") && !n.ends_with(".dbtmp"))
            })
            .collect();
        files.sort();
        let text = std::fs::read_to_string(files.last().unwrap()).unwrap();
        assert!(text.contains(&format!("max_open_files={MAX_OPEN_FILES}\n")));
        let tables = text.matches("[TableOptions/BlockBasedTable").count();
        assert_eq!(tables, 14, "default, meta, eleven books, extra");
        assert_eq!(
            text.matches("cache_index_and_filter_blocks=true\n").count(),
            tables
        );
        assert_eq!(
            text.matches("pin_l0_filter_and_index_blocks_in_cache=true\n")
                .count(),
            tables
        );
    }

    #[test]
    fn an_in_memory_store_has_the_default_bounded_cache_too() {
        let store = PeerStore::open_in_memory(config(), Arc::new(ManualClock::new(0))).unwrap();
        fill_and_read(&store);
        for (capacity, _) in cache_properties(&store) {
            assert_eq!(capacity, DEFAULT_BLOCK_CACHE_SIZE as u64);
        }
    }
}
