//! The in-process dispatcher runs steps side by side: one execution waiting on a slow cloud
//! call holds up no other. Two sims on the real clock, one answering DescribeInstances after
//! 5 s; the other execution must write its next record while the first is still waiting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reimage::aliyun::Client;
use reimage::clock::{SharedClock, SystemClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::RandomIds;
use reimage::model::{PermissionSource, UpdateRequest};
use reimage::steps::cloud::{CloudProvider, SharedCloud};
use reimage::steps::{AliyunCloud, CloudError, Engine};
use reimage::store::SharedStore;
use reimage::store::memory::MemoryStore;
use reimage_sim::Sim;

/// The slow region for executions run as a RAM role, the quick one for the account's own.
#[derive(Debug)]
struct TwoRegions {
    slow: SharedCloud,
    quick: SharedCloud,
}

impl CloudProvider for TwoRegions {
    fn cloud(&self, permission: &PermissionSource) -> Result<SharedCloud, CloudError> {
        Ok(match permission {
            PermissionSource::RamRole { .. } => self.slow.clone(),
            PermissionSource::Account => self.quick.clone(),
        })
    }
}

async fn cloud_of(sim: &Sim) -> SharedCloud {
    let config = sim.client_config();
    Arc::new(AliyunCloud::new(Client::new(config).expect("client")))
}

fn request(permission: PermissionSource) -> UpdateRequest {
    UpdateRequest {
        scaling_group_ids: Vec::new(),
        allow_default_version_change: false,
        instance_id: "i-bp1demoweb000000001".into(),
        image_name: None,
        configuration_ids: vec!["asc-bp1demoweb0000001".into()],
        permission,
        task_id: None,
        rollout: None,
        allow_platform_change: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_cloud_call_of_one_execution_holds_up_no_other() {
    let slow_sim = Sim::builder().image_seconds(60).start().await.expect("sim");
    let quick_sim = Sim::builder().image_seconds(60).start().await.expect("sim");
    slow_sim.admin().latency(5_000, Some("DescribeInstances"));
    let clock: SharedClock = Arc::new(SystemClock);
    let store: SharedStore = Arc::new(MemoryStore::new());
    let local = Arc::new(LocalDispatcher::new(clock.clone()));
    let engine = Engine::new(
        store,
        clock,
        Arc::new(RandomIds),
        local.clone(),
        Arc::new(TwoRegions {
            slow: cloud_of(&slow_sim).await,
            quick: cloud_of(&quick_sim).await,
        }),
    );
    let slow = engine
        .start_new(request(PermissionSource::RamRole {
            role_arn: "acs:ram::1234567890123456:role/reimage-updater".into(),
        }))
        .await
        .expect("start");
    let quick = engine
        .start_new(request(PermissionSource::Account))
        .await
        .expect("start");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = {
        let engine = engine.clone();
        let local = local.clone();
        tokio::spawn(async move {
            local
                .run_concurrently(&engine, 4, async move {
                    let _ = stopped.await;
                })
                .await;
        })
    };
    // The quick execution's create-image writes its next record within a second or two,
    // while the slow one is still inside its 5-second DescribeInstances.
    let started = Instant::now();
    loop {
        let latest = engine.get(&quick.execution_id).await.unwrap().unwrap();
        if latest.seq >= 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the quick execution did not advance while the slow one waited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let slow_latest = engine.get(&slow.execution_id).await.unwrap().unwrap();
    assert_eq!(
        slow_latest.seq, 0,
        "the slow execution is still in its first call"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    let _ = stop.send(());
    // The slow step finishes before the driver returns.
    tokio::time::timeout(Duration::from_secs(15), driver)
        .await
        .expect("the driver ends once its steps in flight are done")
        .expect("no panic");
    let slow_latest = engine.get(&slow.execution_id).await.unwrap().unwrap();
    assert!(slow_latest.seq >= 1, "{slow_latest:?}");
}
