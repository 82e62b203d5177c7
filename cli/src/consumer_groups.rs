//! `streamlet consumer-groups`: list, describe, reset offsets of, and delete consumer groups
//! (kafka-consumer-groups.sh).

use std::collections::{BTreeMap, BTreeSet};

use clap::{ArgGroup, Args};
use streamlet::client::admin::{Admin, OffsetSpec};
use streamlet::client::ClientError;
use streamlet::protocol::ErrorCode;

use crate::common::{describe_error, error_name, finish, out, out_or_exit, ClientArgs, Failure, ToolResult};

#[derive(Args, Debug)]
#[command(
    group(ArgGroup::new("action").required(true).args(["list", "describe", "reset_offsets", "delete"])),
    group(ArgGroup::new("spec").args(["to_earliest", "to_latest", "to_offset", "shift_by", "to_datetime"])),
    after_help = "Examples:
  streamlet consumer-groups --list
  streamlet consumer-groups --describe --group audit
  streamlet consumer-groups --describe --group audit --members
  streamlet consumer-groups --describe --group audit --state
  streamlet consumer-groups --reset-offsets --group audit --topic orders --to-earliest --dry-run
  streamlet consumer-groups --reset-offsets --group audit --topic orders:0,1 --shift-by -10 --execute
  streamlet consumer-groups --reset-offsets --group audit --all-topics --to-datetime 2024-05-01T00:00:00Z --execute
  streamlet consumer-groups --delete --group audit

--reset-offsets is refused while the group has members; without --execute it only shows the new offsets.
--to-offset and --shift-by are kept within each partition's earliest..latest offsets. --to-datetime takes
YYYY-MM-DDTHH:mm:SS[.sss] with an optional Z or +HH:MM offset (UTC when none).
Exit status: 0 done, 1 failed (unknown group, group active, broker error), 2 bad usage, 3 broker unreachable."
)]
pub struct GroupsArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// List every group.
    #[arg(long)]
    list: bool,
    /// Per partition: current offset, log end offset, lag, member, host.
    #[arg(long)]
    describe: bool,
    /// Set the group's committed offsets (see the spec options).
    #[arg(long)]
    reset_offsets: bool,
    /// Delete a group (refused with NON_EMPTY_GROUP while it has members).
    #[arg(long)]
    delete: bool,
    /// With --describe: one line per member (id, host, client id, partitions) instead of per partition.
    #[arg(long, requires = "describe", conflicts_with = "state")]
    members: bool,
    /// With --describe: the group's assignor, state and member count.
    #[arg(long, requires = "describe")]
    state: bool,
    /// The group (repeatable for --describe and --delete).
    #[arg(long)]
    group: Vec<String>,
    /// --reset-offsets: a topic, or TOPIC:P,P,... for some of its partitions (repeatable).
    #[arg(long)]
    topic: Vec<String>,
    /// --reset-offsets: every topic the group has committed offsets for.
    #[arg(long)]
    all_topics: bool,
    /// Reset to the earliest offset.
    #[arg(long)]
    to_earliest: bool,
    /// Reset to the log end offset.
    #[arg(long)]
    to_latest: bool,
    /// Reset to this offset.
    #[arg(long, value_name = "OFFSET", allow_hyphen_values = true)]
    to_offset: Option<i64>,
    /// Move the committed offset by N (negative: back).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    shift_by: Option<i64>,
    /// Reset to the first offset at or after this time.
    #[arg(long, value_name = "ISO-8601")]
    to_datetime: Option<String>,
    /// Show the new offsets without changing anything (the default).
    #[arg(long, conflicts_with = "execute")]
    dry_run: bool,
    /// Commit the new offsets.
    #[arg(long)]
    execute: bool,
}

pub fn run(args: GroupsArgs) -> i32 {
    finish(run_inner(&args))
}

fn run_inner(args: &GroupsArgs) -> ToolResult {
    if (args.describe || args.reset_offsets || args.delete) && args.group.is_empty() {
        return Err(Failure::usage("--describe, --reset-offsets and --delete need --group"));
    }
    if !args.reset_offsets && (!args.topic.is_empty() || args.all_topics || args.dry_run || args.execute) {
        return Err(Failure::usage("--topic, --all-topics, --dry-run and --execute are only valid with --reset-offsets"));
    }
    let admin = args.client.admin()?;
    if args.list {
        for (group, _, _) in admin.list_groups()? {
            out_or_exit(out(group))?;
        }
        Ok(())
    } else if args.describe {
        for g in &args.group {
            if args.members || args.state {
                describe_members(&admin, g, args.state)?;
            } else {
                describe(&admin, g)?;
            }
        }
        Ok(())
    } else if args.reset_offsets {
        reset(&admin, args)
    } else {
        delete(&admin, args)
    }
}

fn row(cols: &[&str]) -> String {
    format!("{:<24} {:<24} {:<10} {:<15} {:<15} {:<8} {:<40} {:<16} {}", cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8])
}

fn describe(admin: &Admin, group: &str) -> ToolResult {
    let d = admin.describe_groups(&[group])?.remove(0);
    let committed = admin.list_group_offsets(group)?;
    if d.state == "Dead" && committed.is_empty() {
        return Err(Failure::failed(format!("consumer group '{group}' does not exist (GROUP_ID_NOT_FOUND)")));
    }
    // Who owns each partition, from the members' assignments.
    let mut owner: BTreeMap<(String, i32), (&str, &str, &str)> = BTreeMap::new();
    for m in &d.members {
        for tp in m.assignment.iter().flatten() {
            owner.insert(tp.clone(), (&m.member_id, &m.host, &m.client_id));
        }
    }
    let parts: BTreeSet<(String, i32)> = committed.keys().chain(owner.keys()).cloned().collect();
    let wanted: Vec<(&str, i32, OffsetSpec)> = parts.iter().map(|(t, p)| (t.as_str(), *p, OffsetSpec::Latest)).collect();
    let ends: BTreeMap<(String, i32), Option<i64>> = admin.list_offsets(&wanted)?.into_iter().map(|(k, r)| (k, r.ok().map(|o| o.offset))).collect();
    if d.members.is_empty() {
        out_or_exit(out(format!("\nConsumer group '{group}' has no active members.")))?;
    }
    out_or_exit(out(format!("\n{}", row(&["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"]))))?;
    for tp in &parts {
        let cur = committed.get(tp).copied();
        let end = ends.get(tp).copied().flatten();
        let lag = match (cur, end) {
            (Some(c), Some(e)) => (e - c).max(0).to_string(),
            _ => "-".into(),
        };
        let (member, host, client) = owner.get(tp).copied().unwrap_or(("-", "-", "-"));
        let show = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
        out_or_exit(out(row(&[group, &tp.0, &tp.1.to_string(), &show(cur), &show(end), &lag, member, host, client])))?;
    }
    Ok(())
}

fn describe_members(admin: &Admin, group: &str, state_only: bool) -> ToolResult {
    let d = admin.describe_groups(&[group])?.remove(0);
    if d.state == "Dead" {
        return Err(Failure::failed(format!("consumer group '{group}' does not exist (GROUP_ID_NOT_FOUND)")));
    }
    if state_only {
        out_or_exit(out(format!("\n{:<24} {:<20} {:<20} {}", "GROUP", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS")))?;
        let strategy = if d.protocol.is_empty() { "-" } else { d.protocol.as_str() };
        return out_or_exit(out(format!("{group:<24} {strategy:<20} {:<20} {}", d.state, d.members.len())));
    }
    if d.members.is_empty() {
        return out_or_exit(out(format!("\nConsumer group '{group}' has no active members.")));
    }
    out_or_exit(out(format!("\n{:<24} {:<40} {:<16} {:<20} {}", "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS")))?;
    for m in &d.members {
        let n = m.assignment.as_ref().map_or(0, |a| a.len());
        out_or_exit(out(format!("{group:<24} {:<40} {:<16} {:<20} {n}", m.member_id, m.host, m.client_id)))?;
    }
    Ok(())
}

fn delete(admin: &Admin, args: &GroupsArgs) -> ToolResult {
    let names: Vec<&str> = args.group.iter().map(String::as_str).collect();
    let results = admin.delete_groups(&names)?;
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(g, r)| match r {
            Err(ClientError::Kafka { code, .. }) => Some(format!("* Group '{g}' could not be deleted due to: {}", error_name(*code))),
            Err(e) => Some(format!("* Group '{g}' could not be deleted due to: {}", describe_error(e))),
            Ok(()) => None,
        })
        .collect();
    let ok: Vec<String> = results.iter().filter(|(_, r)| r.is_ok()).map(|(g, _)| format!("'{g}'")).collect();
    if !ok.is_empty() {
        out_or_exit(out(format!("Deletion of requested consumer groups ({}) was successful.", ok.join(", "))))?;
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!("deletion of some consumer groups failed:\n{}", failed.join("\n"))))
    }
}

/// The partitions --topic / --all-topics name.
fn reset_partitions(admin: &Admin, args: &GroupsArgs, group: &str) -> Result<Vec<(String, i32)>, Failure> {
    if args.all_topics != args.topic.is_empty() {
        return Err(Failure::usage("--reset-offsets needs either --topic or --all-topics"));
    }
    if args.all_topics {
        return Ok(admin.list_group_offsets(group)?.into_keys().collect());
    }
    let mut out = Vec::new();
    for spec in &args.topic {
        let (topic, listed) = match spec.split_once(':') {
            Some((t, ps)) => {
                let ps = ps
                    .split(',')
                    .map(|p| p.trim().parse::<i32>().map_err(|_| Failure::usage(format!("--topic {spec}: partitions must be numbers"))))
                    .collect::<Result<Vec<_>, _>>()?;
                (t, Some(ps))
            }
            None => (spec.as_str(), None),
        };
        let d = match admin.describe_topics(&[topic]) {
            Ok(mut d) => d.remove(0),
            Err(ClientError::Kafka { code: ErrorCode::UnknownTopicOrPartition, .. }) => {
                return Err(Failure::failed(format!("topic '{topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)")))
            }
            Err(e) => return Err(e.into()),
        };
        let all: Vec<i32> = d.partitions.iter().map(|p| p.partition).collect();
        for p in listed.unwrap_or_else(|| all.clone()) {
            if !all.contains(&p) {
                return Err(Failure::failed(format!("partition {p} of topic '{topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)")));
            }
            out.push((topic.to_string(), p));
        }
    }
    Ok(out)
}

fn reset(admin: &Admin, args: &GroupsArgs) -> ToolResult {
    let [group] = args.group.as_slice() else {
        return Err(Failure::usage("--reset-offsets takes one --group"));
    };
    let spec_given = args.to_earliest || args.to_latest || args.to_offset.is_some() || args.shift_by.is_some() || args.to_datetime.is_some();
    if !spec_given {
        return Err(Failure::usage("--reset-offsets needs one of --to-earliest, --to-latest, --to-offset, --shift-by, --to-datetime"));
    }
    let datetime = args.to_datetime.as_deref().map(parse_datetime).transpose()?;
    let d = admin.describe_groups(&[group])?.remove(0);
    if !matches!(d.state.as_str(), "Empty" | "Dead") {
        return Err(Failure::failed(format!(
            "assignments can only be reset if the group '{group}' is inactive, but the current state is {}",
            d.state
        )));
    }
    let parts = reset_partitions(admin, args, group)?;
    let range = |spec: OffsetSpec| -> Result<BTreeMap<(String, i32), i64>, Failure> {
        let wanted: Vec<(&str, i32, OffsetSpec)> = parts.iter().map(|(t, p)| (t.as_str(), *p, spec)).collect();
        let mut out = BTreeMap::new();
        for (k, r) in admin.list_offsets(&wanted)? {
            out.insert(k, r?.offset);
        }
        Ok(out)
    };
    let earliest = range(OffsetSpec::Earliest)?;
    let latest = range(OffsetSpec::Latest)?;
    let committed = admin.list_group_offsets(group)?;
    let clamp = |tp: &(String, i32), o: i64| o.clamp(earliest[tp], latest[tp]);
    let by_time = datetime.map(|ts| range(OffsetSpec::Timestamp(ts))).transpose()?;
    let mut new = Vec::new();
    for tp in &parts {
        let o = if args.to_earliest {
            earliest[tp]
        } else if args.to_latest {
            latest[tp]
        } else if let Some(o) = args.to_offset {
            clamp(tp, o)
        } else if let Some(n) = args.shift_by {
            let cur = committed.get(tp).ok_or_else(|| Failure::failed(format!("group '{group}' has no committed offset for {}-{} to shift from", tp.0, tp.1)))?;
            clamp(tp, cur.saturating_add(n))
        } else {
            // No record at or after the time: the log end.
            let at = by_time.as_ref().expect("a spec was given")[tp];
            if at < 0 {
                latest[tp]
            } else {
                at
            }
        };
        new.push((tp.0.as_str(), tp.1, o));
    }
    if args.execute {
        let results = admin.alter_group_offsets(group, &new)?;
        for ((t, p), r) in &results {
            if let Err(e) = r {
                return Err(Failure::failed(format!("cannot reset the offset of {t}-{p} for group '{group}': {}", describe_error(e))));
            }
        }
    }
    out_or_exit(out(format!("\n{:<24} {:<24} {:<10} {}", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")))?;
    for (t, p, o) in &new {
        out_or_exit(out(format!("{group:<24} {t:<24} {p:<10} {o}")))?;
    }
    if !args.execute {
        eprintln!("(dry run: nothing was changed; add --execute to commit these offsets)");
    }
    Ok(())
}

/// YYYY-MM-DDTHH:mm:SS[.sss][Z|+HH:MM|-HH:MM] to milliseconds since the epoch (UTC without an offset).
pub fn parse_datetime(s: &str) -> Result<i64, Failure> {
    let bad = || Failure::usage(format!("--to-datetime expects YYYY-MM-DDTHH:mm:SS[.sss][Z|+HH:MM], got '{s}'"));
    let num = |t: &str| -> Result<i64, Failure> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse::<i64>().map_err(|_| bad())
    };
    let (date, rest) = s.split_once('T').ok_or_else(bad)?;
    let d: Vec<&str> = date.split('-').collect();
    if d.len() != 3 || d[0].len() != 4 || d[1].len() != 2 || d[2].len() != 2 {
        return Err(bad());
    }
    let (y, mo, day) = (num(d[0])?, num(d[1])?, num(d[2])?);
    // The zone suffix: Z, +HH:MM or -HH:MM after the seconds.
    let (time, offset_min) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (t, z) = rest.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (hh, mm) = z[1..].split_once(':').ok_or_else(bad)?;
        (t, sign * (num(hh)? * 60 + num(mm)?))
    } else {
        (rest, 0)
    };
    let (hms, frac) = match time.split_once('.') {
        Some((a, f)) => (a, f),
        None => (time, ""),
    };
    let t: Vec<&str> = hms.split(':').collect();
    if t.len() != 3 {
        return Err(bad());
    }
    let (h, mi, sec) = (num(t[0])?, num(t[1])?, num(t[2])?);
    let ms = if frac.is_empty() { 0 } else { num(&format!("{frac:0<3}")[..3])? };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(((days * 86_400 + h * 3_600 + mi * 60 + sec) - offset_min * 60) * 1_000 + ms)
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00").unwrap(), 0);
        assert_eq!(parse_datetime("2024-05-01T12:30:15.250Z").unwrap(), 1_714_566_615_250);
        assert_eq!(parse_datetime("2024-05-01T14:30:15.25+02:00").unwrap(), 1_714_566_615_250);
        assert_eq!(parse_datetime("2000-02-29T00:00:00-01:00").unwrap(), 951_786_000_000);
        for bad in ["2024-05-01", "2024-13-01T00:00:00", "yesterday", "2024-05-01T00:00", "2024-05-01T00:00:00+0200"] {
            assert!(parse_datetime(bad).is_err(), "{bad}");
        }
    }
}
