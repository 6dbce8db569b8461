//! `cargo xtask hops DIR`: the per-hop latency breakdown of an `op-p2p devnet --dir DIR` run,
//! from the nodes' debug logs (crates/node/README.md, "Where one hop's time goes").
//!
//! Run the devnet with
//! `RUST_LOG=info,gossip::hop=debug,op_p2p::node=debug,op_p2p::app=debug`. Every stage of every
//! verifier delivery is taken from the tracing timestamps (µs, one clock: all nodes run on this
//! machine); the sender of a message is the peer it came from, whose forward (`reported`) or
//! publish (`block handed to gossipsub`) starts the wire stage. Prints p50/p99 per stage, then the
//! sequencer's own stage and the end-to-end time per node.
//!
//! The log lines are split by hand (no regex crate in xtask, which is compiled first in every CI
//! run); each helper below states the pattern it implements.

use std::{collections::HashMap, fs, path::Path};

use serde_json::Value;

use crate::{Error, Result};

/// The stages of one verifier delivery, in the order they are printed.
const STAGES: [&str; 10] = [
    "wire (sender forwarded -> received)",
    "received -> pipeline task",
    "pipeline task -> blocking thread",
    "validation",
    "verdict -> swarm task reports/forwards",
    "reported -> event loop hands to app",
    "app task wakes",
    "payload store write",
    "received -> forwarded",
    "received -> stored",
];

/// The stage durations (µs) of one verifier delivery, indexed like [`STAGES`]. Only the wire
/// stage can be unknown (the sender's forward is not in its log).
type Row = [Option<i64>; STAGES.len()];

/// One tracing line of a node's log.
#[derive(Debug, PartialEq, Eq)]
struct Event {
    /// Microseconds since the Unix epoch.
    t: i64,
    target: String,
    /// The message with the `key=value` fields taken out.
    msg: String,
    fields: HashMap<String, String>,
}

impl Event {
    fn field(&self, key: &str) -> Result<&str> {
        self.fields
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| Error::Input(format!("no `{key}` field in {self:?}")))
    }

    fn int(&self, key: &str) -> Result<i64> {
        let value = self.field(key)?;
        value
            .parse()
            .map_err(|_| Error::Input(format!("`{key}={value}` is not an integer in {self:?}")))
    }

    fn is_stored(&self) -> bool {
        self.msg.starts_with("new unsafe head")
            || self.msg.starts_with("block above the unsafe head")
    }
}

/// Prints the breakdown of the devnet run in `dir`.
pub(crate) fn run(dir: &Path) -> Result {
    // Node directories in name order, like the log files' reading order of the old script: a
    // later node with the same index replaces an earlier one in place.
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(|e| Error::Input(format!("{}: {e}", dir.display())))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("node-"))
        .collect();
    names.sort();
    let mut peer_of = HashMap::new();
    let mut logs: Vec<(i64, Vec<Event>)> = Vec::new();
    for name in &names {
        let index = name.split('-').nth(1).unwrap_or_default();
        let i: i64 = index.trim().parse().map_err(|_| {
            Error::Input(format!("node directory {name}: {index:?} is not a number"))
        })?;
        let status = read_json(&dir.join(name).join("status.json"))?;
        match status.get("peer_id") {
            Some(Value::String(peer)) => {
                peer_of.insert(peer.clone(), i);
            }
            Some(_) => {}
            None => return Err(Error::Input(format!("{name}/status.json has no peer_id"))),
        }
        let events = parse_log(&dir.join(name).join("node.log"))?;
        match logs.iter_mut().find(|(j, _)| *j == i) {
            Some(slot) => slot.1 = events,
            None => logs.push((i, events)),
        }
    }

    // Sender side: when each node forwarded (reported) message M, when the sequencer handed N.
    let mut handed: HashMap<i64, i64> = HashMap::new();
    let mut reported: HashMap<(i64, &str), i64> = HashMap::new();
    for (i, events) in &logs {
        for ev in events {
            if ev.msg.starts_with("block handed to gossipsub") {
                handed.insert(ev.int("number")?, ev.t);
            }
            if ev.target == "gossip::hop" && ev.msg.starts_with("reported") {
                reported
                    .entry((*i, ev.field("message_id")?))
                    .or_insert(ev.t);
            }
        }
    }

    let mut rows: Vec<Row> = Vec::new();
    for (i, events) in &logs {
        if *i != 0 {
            rows.extend(deliveries(*i, events, &peer_of, &handed, &reported)?);
        }
    }
    if rows.is_empty() {
        return Err(Error::Input(format!(
            "no verifier deliveries in the logs under {} (was RUST_LOG set as in crates/node/README.md?)",
            dir.display()
        )));
    }
    println!("{} verifier deliveries", rows.len());
    println!("| stage | p50 µs | p99 µs |");
    println!("|---|---:|---:|");
    for (k, stage) in STAGES.iter().enumerate() {
        let mut values: Vec<i64> = rows.iter().filter_map(|row| row[k]).collect();
        if let Some((p50, p99)) = percentiles(&mut values) {
            println!("| {stage} | {p50} | {p99} |");
        }
    }
    sequencer(&logs, &handed)
}

/// The rows of verifier `i`: every validated block it received by gossip, stored and handed to
/// its app task.
fn deliveries(
    i: i64,
    events: &[Event],
    peer_of: &HashMap<String, i64>,
    handed: &HashMap<i64, i64>,
    reported: &HashMap<(i64, &str), i64>,
) -> Result<Vec<Row>> {
    let mut recv: HashMap<&str, (i64, Option<&str>)> = HashMap::new();
    let mut val: HashMap<&str, (i64, i64, i64, i64)> = HashMap::new();
    let mut rep: HashMap<&str, i64> = HashMap::new();
    let mut toapp: HashMap<i64, i64> = HashMap::new();
    let mut app: HashMap<i64, i64> = HashMap::new();
    let mut stored: HashMap<i64, i64> = HashMap::new();
    let mut num_of: HashMap<&str, i64> = HashMap::new();
    for ev in events {
        let hop = ev.target == "gossip::hop";
        if hop && ev.msg.starts_with("received") {
            let peer = ev.fields.get("peer").map(String::as_str);
            recv.entry(ev.field("message_id")?).or_insert((ev.t, peer));
        } else if hop && ev.msg.starts_with("validated") {
            let m = ev.field("message_id")?;
            let timings = (
                ev.int("thread_wait_us")?,
                ev.int("check_us")?,
                ev.int("back_us")?,
            );
            val.insert(m, (ev.t, timings.0, timings.1, timings.2));
            // tracing leaves out a `None` number (a message that did not decode).
            if ev.fields.get("number").is_some_and(|n| n != "None") {
                num_of.insert(m, ev.int("number")?);
            }
        } else if hop && ev.msg.starts_with("reported") {
            rep.entry(ev.field("message_id")?).or_insert(ev.t);
        } else if ev.msg.starts_with("gossip block to the app task") {
            toapp.entry(ev.int("number")?).or_insert(ev.t);
        } else if ev.target == "op_p2p::app" && ev.msg.starts_with("gossip block") {
            app.entry(ev.int("number")?).or_insert(ev.t);
        } else if ev.is_stored() {
            stored.entry(ev.int("number")?).or_insert(ev.t);
        }
    }
    let mut rows = Vec::new();
    for (&m, &n) in &num_of {
        let (Some(&(t_recv, peer)), Some(&t_toapp), Some(&t_app), Some(&t_stored)) =
            (recv.get(m), toapp.get(&n), app.get(&n), stored.get(&n))
        else {
            continue;
        };
        let t_sent = match peer.and_then(|p| peer_of.get(p)) {
            Some(0) => handed.get(&n),
            Some(&src) => reported.get(&(src, m)),
            None => None,
        };
        let Some(&(tv, wait, check, back)) = val.get(m) else {
            continue;
        };
        let t_rep = *rep.get(m).ok_or_else(|| {
            Error::Input(format!(
                "node {i}: message {m} (block {n}) was validated and stored but never reported"
            ))
        })?;
        let start = tv - wait - check - back;
        rows.push([
            t_sent.map(|t_sent| t_recv - t_sent),
            Some(start - t_recv),
            Some(wait),
            Some(check),
            Some(t_rep - tv + back),
            Some(t_toapp - t_rep),
            Some(t_app - t_toapp),
            Some(t_stored - t_app),
            Some(t_rep - t_recv),
            Some(t_stored - t_recv),
        ]);
    }
    Ok(rows)
}

/// The sequencer's stored → handed stage, then published → stored per verifier.
fn sequencer(logs: &[(i64, Vec<Event>)], handed: &HashMap<i64, i64>) -> Result {
    let seq = logs
        .iter()
        .find(|(i, _)| *i == 0)
        .ok_or_else(|| Error::Input("no node-0 (the sequencer)".to_owned()))?;
    let mut head: HashMap<i64, i64> = HashMap::new();
    for ev in &seq.1 {
        if ev.msg.starts_with("new unsafe head") {
            head.entry(ev.int("number")?).or_insert(ev.t);
        }
    }
    println!("\n| sequencer | p50 µs | p99 µs |");
    println!("|---|---:|---:|");
    let mut values: Vec<i64> = handed
        .iter()
        .filter_map(|(n, t)| Some(t - head.get(n)?))
        .collect();
    let (p50, p99) = percentiles(&mut values).ok_or_else(|| {
        Error::Input("no block both stored and handed to gossipsub by the sequencer".to_owned())
    })?;
    println!(
        "| stored -> handed to gossipsub (command to the swarm task, signing, publish) | {p50} | {p99} |"
    );
    println!("\n| node | published -> stored p50 µs | p99 µs |");
    println!("|---|---:|---:|");
    let mut verifiers: Vec<&(i64, Vec<Event>)> = logs.iter().filter(|(i, _)| *i != 0).collect();
    verifiers.sort_by_key(|(i, _)| *i);
    for (i, events) in verifiers {
        let mut stored: HashMap<i64, i64> = HashMap::new();
        for ev in events.iter().filter(|ev| ev.is_stored()) {
            stored.entry(ev.int("number")?).or_insert(ev.t);
        }
        let mut values: Vec<i64> = stored
            .iter()
            .filter_map(|(n, t)| Some(t - handed.get(n)?))
            .collect();
        if let Some((p50, p99)) = percentiles(&mut values) {
            println!("| {i} | {p50} | {p99} |");
        }
    }
    Ok(())
}

/// p50 and p99 of `values` (sorted here): the elements at index ⌊n/2⌋ and ⌊n·0.99⌋ (the product
/// in floating point, capped at n−1), as the Python script this replaces took them.
fn percentiles(values: &mut [i64]) -> Option<(i64, i64)> {
    values.sort_unstable();
    let n = values.len();
    let p99 = ((n as f64 * 0.99) as usize).min(n.checked_sub(1)?);
    Some((values[n / 2], values[p99]))
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        fs::read_to_string(path).map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Error::Input(format!("{}: {e}", path.display())))
}

/// The tracing lines of one node's log; other lines are skipped. Invalid UTF-8 is replaced and
/// `\r\n` / `\r` end lines too, as Python's text mode reads the file.
fn parse_log(path: &Path) -> Result<Vec<Event>> {
    let bytes = fs::read(path).map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&bytes)
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let mut events = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if let Some(parsed) = parse_line(line) {
            events.push(parsed.map_err(|bad| {
                Error::Input(format!(
                    "{}:{}: bad timestamp {bad:?}",
                    path.display(),
                    number + 1
                ))
            })?);
        }
    }
    Ok(events)
}

/// One log line as `^(\S+)\s+(\w+)\s+([\w:]+): (.*)$` (timestamp, level, target, rest) after
/// the ANSI colour codes are taken out, with the fields `(\w+)=(\S+)` of the rest. `None` for
/// a line that is not a tracing line; `Some(Err(timestamp))` when its first word is not a
/// timestamp.
fn parse_line(line: &str) -> Option<std::result::Result<Event, String>> {
    let line = strip_ansi(line);
    let (stamp, rest) = split_run(&line, |c| !is_space(c));
    let (space, rest) = split_run(rest, is_space);
    let (level, rest) = split_run(rest, is_word);
    let (space2, rest) = split_run(rest, is_space);
    if stamp.is_empty() || space.is_empty() || level.is_empty() || space2.is_empty() {
        return None;
    }
    // `([\w:]+): ` backtracks into its own run: the target is the run minus a final `:`, which
    // must be followed by a space.
    let (run, after) = split_run(rest, |c| is_word(c) || c == ':');
    let target = run.strip_suffix(':').filter(|t| !t.is_empty())?;
    let rest = after.strip_prefix(' ')?;
    let (fields, msg) = split_fields(rest);
    Some(match timestamp_us(stamp) {
        Some(t) => Ok(Event {
            t,
            target: target.to_owned(),
            msg,
            fields,
        }),
        None => Err(stamp.to_owned()),
    })
}

/// The `(\w+)=(\S+)` matches of `rest`, left to right and not overlapping (a later key
/// replaces an earlier one), and `rest` without them, trimmed.
fn split_fields(rest: &str) -> (HashMap<String, String>, String) {
    let mut fields = HashMap::new();
    let mut msg = String::new();
    let mut tail = rest;
    while let Some(c) = tail.chars().next() {
        if is_word(c) {
            let (key, after) = split_run(tail, is_word);
            let (value, after_value) = match after.strip_prefix('=') {
                Some(v) => split_run(v, |c| !is_space(c)),
                None => ("", after),
            };
            if value.is_empty() {
                // No match starts anywhere in this word run: they all reach the same end.
                msg.push_str(key);
                tail = after;
            } else {
                fields.insert(key.to_owned(), value.to_owned());
                tail = after_value;
            }
        } else {
            msg.push(c);
            tail = &tail[c.len_utf8()..];
        }
    }
    (fields, msg.trim_matches(is_space).to_owned())
}

/// `s` without the `\x1b\[[0-9;]*m` sequences.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut tail = s;
    while let Some(at) = tail.find('\x1b') {
        out.push_str(&tail[..at]);
        let esc = &tail[at..];
        let code = esc
            .strip_prefix("\x1b[")
            .map(|body| split_run(body, |c| c.is_ascii_digit() || c == ';').1)
            .and_then(|after| after.strip_prefix('m'));
        match code {
            Some(after) => tail = after,
            None => {
                out.push('\x1b');
                tail = &esc[1..];
            }
        }
    }
    out.push_str(tail);
    out
}

/// Splits `s` after its longest prefix of characters matching `pred`.
fn split_run(s: &str, pred: impl Fn(char) -> bool) -> (&str, &str) {
    let end = s.find(|c| !pred(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// Python's `\w` on `str`: alphanumerics and `_`. Rust's alphanumerics also take the
/// `Other_Alphabetic` marks (e.g. U+0345, Indic vowel signs), which Python's do not; tracing
/// levels, targets and field names are ASCII.
fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Python's `\s` / `str.isspace`: Unicode white space plus the separators U+001C–U+001F.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Microseconds since the Unix epoch of a tracing timestamp, `2026-12-01T00:20:09.123456Z`
/// (UTC; 1 to 6 fraction digits; the old script's `s.rstrip("Z")[:26]`). `None` if it is not
/// one or names no real date or time.
fn timestamp_us(s: &str) -> Option<i64> {
    let s = s.trim_end_matches('Z');
    let s = s.char_indices().nth(26).map_or(s, |(at, _)| &s[..at]);
    let b = s.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0_i64, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':'), (19, b'.')];
    if separators.iter().any(|&(at, sep)| b.get(at) != Some(&sep))
        || !b.get(10).is_some_and(|t| t.eq_ignore_ascii_case(&b'T'))
        || !(21..=26).contains(&b.len())
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let fraction = number(20..b.len())?;
    let micros = fraction * 10_i64.pow(u32::try_from(26 - b.len()).ok()?);
    if year < 1
        || !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(seconds * 1_000_000 + micros)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the proleptic Gregorian date `year-month-day` (Howard Hinnant's
/// `days_from_civil`: years counted from March, so the leap day ends a year).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(line: &str) -> Event {
        parse_line(line)
            .expect("a tracing line")
            .expect("a timestamp")
    }

    #[test]
    fn parses_a_hop_line() {
        let ev = event(
            "2026-12-01T01:45:37.004437Z DEBUG gossip::hop: reported (an accepted message is \
             forwarded) message_id=64185bd6 outcome=accept",
        );
        assert_eq!(ev.target, "gossip::hop");
        assert_eq!(ev.msg, "reported (an accepted message is forwarded)");
        assert_eq!(ev.fields.len(), 2);
        assert_eq!(ev.field("message_id").expect("field"), "64185bd6");
        assert_eq!(ev.field("outcome").expect("field"), "accept");
        assert_eq!(
            ev.t,
            1_796_083_200_000_000 + (3600 + 45 * 60 + 37) * 1_000_000 + 4437
        );
    }

    #[test]
    fn parses_a_coloured_line_with_padded_level() {
        let ev = event(
            "\x1b[2m2026-12-01T01:45:37.001885Z\x1b[0m \x1b[32m INFO\x1b[0m \x1b[2mop_p2p::app\x1b[0m\x1b[2m:\x1b[0m new unsafe head number=1 origin=\"local\" head=1",
        );
        assert_eq!(ev.target, "op_p2p::app");
        assert_eq!(ev.msg, "new unsafe head");
        assert_eq!(ev.int("number").expect("number"), 1);
        assert_eq!(ev.field("origin").expect("field"), "\"local\"");
        assert!(ev.is_stored());
    }

    #[test]
    fn fields_match_the_python_pattern() {
        // Python: re.findall(r"(\w+)=(\S+)", r) and re.sub(...).strip() on this string.
        let (fields, msg) = split_fields("a=b=c d==e é=1 =x y= a=z");
        assert_eq!(fields.get("a").map(String::as_str), Some("z"));
        assert_eq!(fields.get("d").map(String::as_str), Some("=e"));
        assert_eq!(fields.get("é").map(String::as_str), Some("1"));
        assert_eq!(fields.len(), 3);
        assert_eq!(msg, "=x y=");
    }

    #[test]
    fn target_takes_the_regex_backtracking() {
        // Python: ('t', 'INFO', 'c:', 'x') and ('t', 'INFO', 'a:b', 'c: d').
        let ev = event("2026-12-01T00:00:00.000000Z  INFO c:: x");
        assert_eq!((ev.target.as_str(), ev.msg.as_str()), ("c:", "x"));
        let ev = event("2026-12-01T00:00:00.000000Z INFO a:b: c: d");
        assert_eq!((ev.target.as_str(), ev.msg.as_str()), ("a:b", "c: d"));
    }

    #[test]
    fn skips_lines_that_are_not_tracing_lines() {
        for line in [
            "",
            "ok: all 5 nodes hold blocks 1-20 with identical hashes",
            " 2026-12-01T00:00:00.000000Z INFO a: b",
            "2026-12-01T00:00:00.000000Z INFO: a: b",
            "2026-12-01T00:00:00.000000Z INFO a:b",
            "| 1 | verifier | 16Uiu2…adG7 | 20 |",
        ] {
            assert!(parse_line(line).is_none(), "{line:?}");
        }
        // Python: ('…', 'INFO', ':', 'b').
        let ev = event("2026-12-01T00:00:00.000000Z INFO :: b");
        assert_eq!((ev.target.as_str(), ev.msg.as_str()), (":", "b"));
        // A tracing-like line whose first word is no timestamp (the script raised there).
        assert_eq!(
            parse_line("Error  in  foo: bar"),
            Some(Err("Error".to_owned()))
        );
    }

    #[test]
    fn strips_only_sgr_sequences() {
        assert_eq!(
            strip_ansi("\x1b[1;32mok\x1b[0m \x1b[Kx\x1b"),
            "ok \x1b[Kx\x1b"
        );
    }

    #[test]
    fn timestamps_count_across_midnight_month_and_year() {
        let t = |s| timestamp_us(s).expect("a timestamp");
        assert_eq!(t("1970-01-01T00:00:00.000000Z"), 0);
        assert_eq!(t("2026-12-01T00:00:00.000000Z"), 1_796_083_200_000_000);
        // Midnight, also the end of November.
        assert_eq!(
            t("2026-12-01T00:00:00.000100Z") - t("2026-11-30T23:59:59.999900Z"),
            200
        );
        assert_eq!(
            t("2027-01-01T00:00:00.000000Z") - t("2026-12-31T23:59:59.999999Z"),
            1
        );
        assert_eq!(
            t("2028-03-01T00:00:00.000000Z") - t("2028-02-29T00:00:00.000000Z"),
            86_400_000_000
        );
        assert_eq!(
            t("2100-03-01T00:00:00.000000Z") - t("2100-02-28T00:00:00.000000Z"),
            86_400_000_000
        );
        // Fewer fraction digits, and nanoseconds cut to microseconds as `[:26]` did.
        assert_eq!(t("1970-01-01T00:00:01.5Z"), 1_500_000);
        assert_eq!(t("1970-01-01T00:00:00.123456789Z"), 123_456);
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for s in [
            "2026-02-29T00:00:00.000000Z",
            "2026-13-01T00:00:00.000000Z",
            "2026-12-01T24:00:00.000000Z",
            "2026-12-01T00:00:60.000000Z",
            "2026-12-01T00:00:00Z",
            "2026-12-01T00:00:00.Z",
            "2026-12-01 00:00:00.000000Z",
            "2026-12-01T00:00:00.00000xZ",
            "INFO",
        ] {
            assert_eq!(timestamp_us(s), None, "{s}");
        }
    }

    #[test]
    fn percentiles_index_like_the_script() {
        assert_eq!(percentiles(&mut []), None);
        assert_eq!(percentiles(&mut [5]), Some((5, 5)));
        let mut v: Vec<i64> = (0..80).rev().collect();
        // ⌊80/2⌋ = 40, ⌊80·0.99⌋ = 79.
        assert_eq!(percentiles(&mut v), Some((40, 79)));
        let mut v: Vec<i64> = (0..200).collect();
        assert_eq!(percentiles(&mut v), Some((100, 198)));
    }
}
