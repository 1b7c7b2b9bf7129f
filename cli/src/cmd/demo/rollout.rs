//! `reimage demo --rollout`: after the image update, the rolling update of the web group's six
//! running instances onto the new image, behind a canary, a readiness command and the group's
//! load balancer (each instance's weights shown, and put back as they were); then a
//! rollout onto an image the sim marks bad, caught on the canary and rolled back with the
//! configuration untouched.

use std::sync::Arc;
use std::time::Duration;

use reimage::clock::SharedClock;
use reimage::ids::RandomIds;
use reimage::rollout::{Amount, Outcome, RolloutSpec, RolloutTiming, Rollouts};
use reimage::steps::AliyunCloud;
use reimage::store::SharedStore;
use reimage_sim::Sim;
use reimage_sim::ecs::fleet::PowerTiming;
use reimage_sim::seed::{DEMO_LOAD_BALANCER_ID, DEMO_VSERVER_GROUP_ID};

/// The demo's rollouts: the group, its fleet, and the images.
pub struct DemoRollout<'a> {
    /// The sim.
    pub sim: &'a Sim,
    /// The records.
    pub store: SharedStore,
    /// The clock.
    pub clock: SharedClock,
    /// The client to the sim.
    pub client: reimage::aliyun::Client,
    /// The group.
    pub group_id: &'a str,
    /// Its active configuration.
    pub configuration_id: &'a str,
}

impl DemoRollout<'_> {
    fn rollouts(&self) -> Rollouts {
        Rollouts::new(
            self.store.clone(),
            Arc::new(AliyunCloud::new(self.client.clone())),
            self.clock.clone(),
            Arc::new(RandomIds),
            RolloutTiming {
                poll: Duration::from_millis(500),
                ..RolloutTiming::default()
            },
        )
    }

    /// The fleet's instances and images, one line each.
    fn show_fleet(&self) {
        let state = self.sim.admin().state();
        for m in state
            .scaling_instances
            .iter()
            .filter(|m| m.scaling_group_id == self.group_id)
        {
            let image = state
                .instances
                .iter()
                .find(|i| i.instance_id == m.instance_id)
                .map(|i| i.image_id.as_str())
                .unwrap_or_default();
            let weight = |target: &str| {
                self.sim
                    .admin()
                    .backend_weight(target, &m.instance_id)
                    .map_or_else(|| "-".to_owned(), |w| w.to_string())
            };
            println!(
                "    {}  {:<9} {:<9} {lb} {:>3}  {vsg} {:>3}  {image}",
                m.instance_id,
                m.lifecycle_state,
                m.health_status,
                weight(DEMO_LOAD_BALANCER_ID),
                weight(DEMO_VSERVER_GROUP_ID),
                lb = DEMO_LOAD_BALANCER_ID,
                vsg = DEMO_VSERVER_GROUP_ID,
            );
        }
        if let Some(c) = self
            .sim
            .admin()
            .scaling_configuration(self.configuration_id)
        {
            println!(
                "    configuration {} holds {}",
                c.scaling_configuration_id, c.image_id
            );
        }
    }

    /// One rollout onto `image`, each phase printed; its outcome.
    async fn roll(&self, image: &str) -> anyhow::Result<Outcome> {
        let rollouts = self.rollouts();
        let spec = RolloutSpec {
            max_unavailable: Amount::Count(2),
            bake_seconds: 1,
            warmup_seconds: 0,
            // The bad image's readiness command fails until this timeout: a short one keeps
            // the demo short.
            gate_timeout_seconds: 5,
            readiness_command: Some("systemctl is-active web".to_owned()),
            ..RolloutSpec::new(self.group_id, image)
        };
        let id = rollouts.start(spec).await?;
        println!(
            "  rollout {id}: {} → {image}, 2 at a time after a canary of 1",
            self.group_id
        );
        crate::cmd::rollout::follow(&rollouts, &id, &self.clock, Some("    "))
            .await?
            .ok_or_else(|| anyhow::anyhow!("rollout {id} paused, which the demo never asks for"))
    }

    /// Both rollouts: onto `good`, then onto `bad` (marked bad first).
    pub async fn run(&self, good: &str, bad: &str) -> anyhow::Result<bool> {
        self.sim.admin().set_power_timing(PowerTiming {
            stop: chrono::Duration::seconds(1),
            boot: chrono::Duration::seconds(1),
            replace: chrono::Duration::seconds(1),
        });
        println!(
            "\nthe rolling update: the running instances of {} onto {good}",
            self.group_id
        );
        self.show_fleet();
        let first = self.roll(good).await?;
        println!("  outcome: {}", first);
        self.show_fleet();
        println!("\nthe same with a bad image ({bad}: its instances fail the readiness command)");
        self.sim.admin().mark_image_bad(bad)?;
        let second = self.roll(bad).await?;
        println!("  outcome: {}", second);
        self.show_fleet();
        Ok(first == Outcome::Succeeded && matches!(second, Outcome::RolledBack { .. }))
    }
}
