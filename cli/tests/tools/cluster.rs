//! `streamlet broker --config nodeN.properties` three times: a multi-process cluster from Kafka's KRaft
//! properties; SIGKILL of the active controller.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use streamlet::client::admin::{Admin, NewTopic};

use crate::support::{command, wait_until, Running};

/// `n` distinct free ports. Every node must know every address up front, so ports are picked by binding 0 (all
/// at once, so that none is picked twice) and released just before the nodes start.
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    held.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

/// The nodes' stderr, for a failure message.
fn logs(dir: &std::path::Path) -> String {
    (1..=3).map(|i| format!("--- node {i} ---\n{}", std::fs::read_to_string(dir.join(format!("node{i}.log"))).unwrap_or_default())).collect()
}

fn admin(bootstrap: &str) -> Admin {
    let props: BTreeMap<String, String> =
        [("bootstrap.servers".to_string(), bootstrap.to_string()), ("request.timeout.ms".to_string(), "5000".to_string())].into();
    Admin::new(&props).expect("admin")
}

#[test]
fn three_processes_form_a_cluster_and_survive_killing_the_controller() {
    let dir = tempfile::tempdir().unwrap();
    let ports = free_ports(6);
    let (broker_ports, controller_ports) = ports.split_at(3);
    let voters = controller_ports.iter().enumerate().map(|(i, p)| format!("{}@127.0.0.1:{p}", i + 1)).collect::<Vec<_>>().join(",");
    let mut nodes: Vec<Option<Running>> = Vec::new();
    for i in 0..3 {
        let path = dir.path().join(format!("node{}.properties", i + 1));
        let text = format!(
            "process.roles=broker,controller\nnode.id={}\ncontroller.quorum.voters={voters}\n\
             listeners=PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}\nadvertised.listeners=PLAINTEXT://127.0.0.1:{}\n\
             controller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n\
             listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\nlog.dirs={}\n\
             broker.session.timeout.ms=2000\nbroker.heartbeat.interval.ms=200\ncluster.id=MkU3OEVBNTcwNTJENDM2Qk\n",
            i + 1,
            broker_ports[i],
            controller_ports[i],
            broker_ports[i],
            dir.path().join(format!("node-{}", i + 1)).display()
        );
        std::fs::write(&path, text).unwrap();
        let mut cmd = command(&["broker", "--config", path.to_str().unwrap()]);
        let log = std::fs::File::create(dir.path().join(format!("node{}.log", i + 1))).unwrap();
        cmd.stdout(Stdio::null()).stderr(log);
        nodes.push(Some(Running::spawn(cmd)));
    }
    let all: String = broker_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect::<Vec<_>>().join(",");
    let describe = |bootstrap: &str| admin(bootstrap).describe_cluster().ok();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !describe(&all).is_some_and(|c| c.brokers.len() == 3) {
        assert!(std::time::Instant::now() < deadline, "three registered brokers never seen\n{}", logs(dir.path()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let cluster = describe(&all).unwrap();
    let controller = cluster.controller;
    let at = |node: i32| format!("127.0.0.1:{}", broker_ports[node as usize - 1]);
    let r = admin(&at(controller)).create_topics(&[NewTopic::new("rf3", 3, 3)], false).unwrap();
    assert!(r[0].1.is_ok(), "{r:?}");
    wait_until(Duration::from_secs(20), "rf3 described with 3 replicas", || {
        admin(&all).describe_topics(&["rf3"]).is_ok_and(|t| t[0].partitions.len() == 3 && t[0].partitions.iter().all(|p| p.replicas.len() == 3))
    });

    // SIGKILL the active controller's process.
    let mut killed = nodes[controller as usize - 1].take().unwrap();
    killed.0.kill().unwrap();
    let _ = killed.0.wait();
    let survivors: String = (1..=3).filter(|&n| n != controller).map(at).collect::<Vec<_>>().join(",");
    wait_until(Duration::from_secs(30), "a new controller and the dead broker fenced", || {
        describe(&survivors).is_some_and(|c| c.controller != controller && c.controller > 0 && c.brokers.len() == 2)
    });
    let new_controller = describe(&survivors).unwrap().controller;
    let r = admin(&at(new_controller)).create_topics(&[NewTopic::new("after-kill", 1, 2)], false).unwrap();
    assert!(r[0].1.is_ok(), "{r:?}");
    let t = admin(&survivors).describe_topics(&["rf3"]).unwrap();
    assert!(t[0].partitions.iter().all(|p| p.leader != controller && !p.isr.contains(&controller)), "{t:?}");
}

#[test]
fn streamlet_cluster_starts_three_brokers() {
    let mut cmd = command(&["cluster", "--brokers", "3"]);
    cmd.stderr(Stdio::null());
    let mut node = Running::spawn(cmd);
    let mut out = std::io::BufReader::new(node.0.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    let bootstrap = line.trim().strip_prefix("bootstrap.servers=").unwrap_or_else(|| panic!("{line}")).to_string();
    assert_eq!(bootstrap.split(',').count(), 3);
    wait_until(Duration::from_secs(30), "three brokers", || admin(&bootstrap).describe_cluster().is_ok_and(|c| c.brokers.len() == 3));
    node.interrupt();
    let status = node.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
