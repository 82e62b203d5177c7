//! `streamlet topics`: create, list, describe, delete and grow topics (kafka-topics.sh).

use clap::{ArgGroup, Args};
use streamlet::client::admin::{Admin, NewTopic};
use streamlet::client::ClientError;
use streamlet::protocol::ErrorCode;

use crate::common::{finish, out, out_or_exit, parse_kv, ClientArgs, Failure, ToolResult};

#[derive(Args, Debug)]
#[command(
    group(ArgGroup::new("action").required(true).args(["create", "list", "describe", "delete", "alter"])),
    after_help = "Examples:
  streamlet topics --create --topic orders --partitions 3 --replication-factor 1 --config retention.ms=86400000
  streamlet topics --list
  streamlet topics --describe --topic orders
  streamlet topics --alter --topic orders --partitions 6
  streamlet topics --delete --topic orders --bootstrap-server broker1:9092

Exit status: 0 done, 1 the broker refused (e.g. TOPIC_ALREADY_EXISTS, UNKNOWN_TOPIC_OR_PARTITION),
2 bad usage, 3 broker unreachable."
)]
pub struct TopicsArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Create a topic.
    #[arg(long)]
    create: bool,
    /// List the topics' names.
    #[arg(long)]
    list: bool,
    /// Partitions, leaders, replicas, ISR and non-default configs (every topic without --topic).
    #[arg(long)]
    describe: bool,
    /// Delete a topic.
    #[arg(long)]
    delete: bool,
    /// Add partitions (--partitions is the new total; shrinking is refused with INVALID_PARTITIONS).
    #[arg(long)]
    alter: bool,
    /// The topic (repeatable for --describe and --delete).
    #[arg(long)]
    topic: Vec<String>,
    /// Number of partitions (--create: default is the broker's num.partitions).
    #[arg(long)]
    partitions: Option<i32>,
    /// Replication factor (--create: default is the broker's default.replication.factor).
    #[arg(long)]
    replication_factor: Option<i16>,
    /// A topic config, KEY=VALUE (repeatable, --create).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    configs: Vec<String>,
    /// --create succeeds when the topic exists already.
    #[arg(long)]
    if_not_exists: bool,
    /// --describe, --alter and --delete succeed when the topic does not exist.
    #[arg(long)]
    if_exists: bool,
    /// --list and --describe leave out internal topics (__consumer_offsets...).
    #[arg(long)]
    exclude_internal: bool,
}

pub fn run(args: TopicsArgs) -> i32 {
    finish(run_inner(&args))
}

fn is(e: &ClientError, code: ErrorCode) -> bool {
    matches!(e, ClientError::Kafka { code: c, .. } if *c == code)
}

fn one_topic(args: &TopicsArgs, action: &str) -> Result<String, Failure> {
    match args.topic.as_slice() {
        [t] => Ok(t.clone()),
        [] => Err(Failure::usage(format!("{action} needs --topic"))),
        _ => Err(Failure::usage(format!("{action} takes one --topic"))),
    }
}

fn run_inner(args: &TopicsArgs) -> ToolResult {
    let configs = args.configs.iter().map(|kv| parse_kv("--config", kv)).collect::<Result<Vec<_>, _>>()?;
    if !configs.is_empty() && !args.create {
        return Err(Failure::usage("--config is only valid with --create"));
    }
    if args.partitions.is_some() && !(args.create || args.alter) {
        return Err(Failure::usage("--partitions is only valid with --create or --alter"));
    }
    let admin = args.client.admin()?;
    if args.create {
        create(&admin, args, configs)
    } else if args.list {
        for name in admin.list_topics(!args.exclude_internal)? {
            out_or_exit(out(name))?;
        }
        Ok(())
    } else if args.describe {
        describe(&admin, args)
    } else if args.delete {
        if args.topic.is_empty() {
            return Err(Failure::usage("--delete needs --topic"));
        }
        let names: Vec<&str> = args.topic.iter().map(String::as_str).collect();
        let mut failed = None;
        for (name, r) in admin.delete_topics(&names)? {
            match r {
                Ok(()) => out_or_exit(out(format!("Deleted topic {name}.")))?,
                Err(e) if args.if_exists && is(&e, ErrorCode::UnknownTopicOrPartition) => {}
                Err(e) => failed = Some(Failure::from(e).with_context(&format!("cannot delete topic '{name}'"))),
            }
        }
        failed.map_or(Ok(()), Err)
    } else {
        let topic = one_topic(args, "--alter")?;
        let n = args.partitions.ok_or_else(|| Failure::usage("--alter needs --partitions N"))?;
        match admin.create_partitions(&[(&topic, n)])?.into_iter().next() {
            Some((_, Ok(()))) => out_or_exit(out(format!("Topic {topic} now has {n} partitions."))),
            Some((_, Err(e))) if args.if_exists && is(&e, ErrorCode::UnknownTopicOrPartition) => Ok(()),
            Some((_, Err(e))) => Err(Failure::from(e).with_context(&format!("cannot alter topic '{topic}'"))),
            None => Err(Failure::failed(format!("the broker did not answer for topic '{topic}'"))),
        }
    }
}

fn create(admin: &Admin, args: &TopicsArgs, configs: Vec<(String, String)>) -> ToolResult {
    let topic = one_topic(args, "--create")?;
    let mut new = NewTopic::new(&topic, args.partitions.unwrap_or(-1), args.replication_factor.unwrap_or(-1));
    for (k, v) in configs {
        new = new.config(k, v);
    }
    match admin.create_topics(&[new], false)?.into_iter().next() {
        Some((_, Ok(()))) => out_or_exit(out(format!("Created topic {topic}."))),
        Some((_, Err(e))) if args.if_not_exists && is(&e, ErrorCode::TopicAlreadyExists) => Ok(()),
        Some((_, Err(e))) => Err(Failure::from(e).with_context(&format!("cannot create topic '{topic}'"))),
        None => Err(Failure::failed(format!("the broker did not answer for topic '{topic}'"))),
    }
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

fn describe(admin: &Admin, args: &TopicsArgs) -> ToolResult {
    let names: Vec<String> = if args.topic.is_empty() { admin.list_topics(!args.exclude_internal)? } else { args.topic.clone() };
    for name in &names {
        let d = match admin.describe_topics(&[name]) {
            Ok(mut d) => d.remove(0),
            Err(e) if args.if_exists && is(&e, ErrorCode::UnknownTopicOrPartition) => continue,
            Err(e) if is(&e, ErrorCode::UnknownTopicOrPartition) => return Err(Failure::failed(format!("topic '{name}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"))),
            Err(e) => return Err(e.into()),
        };
        let configs = admin.describe_configs(name)?;
        let set: Vec<String> = configs.iter().filter(|(_, (_, default))| !default).map(|(k, (v, _))| format!("{k}={v}")).collect();
        let rf = d.partitions.first().map_or(0, |p| p.replicas.len());
        out_or_exit(out(format!(
            "Topic: {}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
            d.name,
            d.id,
            d.partitions.len(),
            rf,
            set.join(",")
        )))?;
        for p in &d.partitions {
            out_or_exit(out(format!(
                "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
                d.name,
                p.partition,
                if p.leader < 0 { "none".to_string() } else { p.leader.to_string() },
                join(&p.replicas),
                join(&p.isr)
            )))?;
        }
    }
    Ok(())
}
