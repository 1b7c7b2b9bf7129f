//! Classic Load Balancer (CLB, product `Slb`, API version 2014-05-15): the load balancers a
//! scaling group is attached to, as a rolling update reads and sets them.
//!
//! - DescribeLoadBalancerAttribute: <https://www.alibabacloud.com/help/en/slb/classic-load-balancer/developer-reference/api-slb-2014-05-15-describeloadbalancerattribute>
//! - DescribeHealthStatus: <https://www.alibabacloud.com/help/en/slb/classic-load-balancer/developer-reference/api-slb-2014-05-15-describehealthstatus>
//! - DescribeVServerGroupAttribute: <https://www.alibabacloud.com/help/doc-detail/35224.html>
//! - SetBackendServers: <https://www.alibabacloud.com/help/en/slb/classic-load-balancer/developer-reference/api-slb-2014-05-15-setbackendservers>
//! - SetVServerGroupAttribute: <https://www.alibabacloud.com/help/en/slb/classic-load-balancer/developer-reference/api-slb-2014-05-15-setvservergroupattribute>
//!
//! A backend's health follows its ECS instance: `normal` while the instance is Running on an
//! image not marked bad, `abnormal` otherwise (the check of a service that did not start).

use serde_json::{Value, json};

use crate::ecs::state::Ecs;
use crate::error::RpcError;
use crate::params::Params;

/// The API version CLB answers to.
pub const VERSION: &str = "2014-05-15";

/// Every action the sim's CLB implements.
pub const ACTIONS: &[&str] = &[
    "DescribeLoadBalancerAttribute",
    "DescribeHealthStatus",
    "DescribeVServerGroupAttribute",
    "SetBackendServers",
    "SetVServerGroupAttribute",
];

/// Most backend servers one Set call takes.
pub const MAX_BACKENDS_PER_CALL: usize = 20;

/// A backend server of a load balancer's default server group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Backend {
    /// `i-…`.
    pub server_id: String,
    /// 0 to 100.
    pub weight: u32,
}

/// A load balancer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoadBalancer {
    /// `lb-…`.
    pub load_balancer_id: String,
    /// Its name.
    pub load_balancer_name: String,
    /// The frontend ports of its listeners (each health-checks every backend).
    pub listener_ports: Vec<u16>,
    /// The default server group.
    pub backends: Vec<Backend>,
}

/// A member of a vServer group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VBackend {
    /// `i-…`.
    pub server_id: String,
    /// The backend port.
    pub port: u16,
    /// 0 to 100.
    pub weight: u32,
}

/// A vServer group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VServerGroup {
    /// `rsp-…`.
    pub vserver_group_id: String,
    /// Its name.
    pub vserver_group_name: String,
    /// The load balancer it belongs to.
    pub load_balancer_id: String,
    /// Its members.
    pub backends: Vec<VBackend>,
}

/// The region's CLB resources.
#[derive(Debug, Clone, Default)]
pub struct Slb {
    /// Load balancers.
    pub load_balancers: Vec<LoadBalancer>,
    /// vServer groups.
    pub vserver_groups: Vec<VServerGroup>,
}

fn lb_not_found() -> RpcError {
    // Not in CLB's documented error table; the code, status and message the service answers
    // (see sim/README).
    RpcError::not_found(
        "InvalidLoadBalancerId.NotFound",
        "The specified LoadBalancerId does not exist.",
    )
}

fn group_not_found() -> RpcError {
    RpcError::not_found(
        "InvalidParameter",
        "The specified VServerGroupId does not exist.",
    )
}

fn server_not_found() -> RpcError {
    RpcError::bad_request(
        "InvalidServerId.NotFound",
        "The specified server is not found.",
    )
}

impl Slb {
    fn load_balancer(&self, id: &str) -> Result<&LoadBalancer, RpcError> {
        self.load_balancers
            .iter()
            .find(|lb| lb.load_balancer_id == id)
            .ok_or_else(lb_not_found)
    }

    fn group_mut(&mut self, id: &str) -> Result<&mut VServerGroup, RpcError> {
        self.vserver_groups
            .iter_mut()
            .find(|g| g.vserver_group_id == id)
            .ok_or_else(group_not_found)
    }

    /// Sets `server`'s weight in each of `load_balancers` (their default groups) and
    /// `vserver_groups` that has it: what ESS does on EnterStandby (0) and ExitStandby (50).
    pub fn set_weight(
        &mut self,
        load_balancers: &[String],
        vserver_groups: &[String],
        server: &str,
        weight: u32,
    ) {
        for lb in self
            .load_balancers
            .iter_mut()
            .filter(|lb| load_balancers.contains(&lb.load_balancer_id))
        {
            for b in lb.backends.iter_mut().filter(|b| b.server_id == server) {
                b.weight = weight;
            }
        }
        for g in self
            .vserver_groups
            .iter_mut()
            .filter(|g| vserver_groups.contains(&g.vserver_group_id))
        {
            for b in g.backends.iter_mut().filter(|b| b.server_id == server) {
                b.weight = weight;
            }
        }
    }
}

/// A server's health as the load balancer's checks see it.
pub fn health(ecs: &Ecs, server: &str) -> &'static str {
    match ecs.instances.iter().find(|i| i.instance_id == server) {
        Some(i)
            if i.status == crate::ecs::state::InstanceStatus::Running
                && !ecs.bad_images.contains(&i.image_id) =>
        {
            "normal"
        }
        _ => "abnormal",
    }
}

/// Runs `action`; `None` if CLB has no such action.
pub fn handle(
    action: &str,
    p: &Params,
    slb: &mut Slb,
    ecs: &Ecs,
) -> Option<Result<Value, RpcError>> {
    Some(match action {
        "DescribeLoadBalancerAttribute" => describe_load_balancer_attribute(slb, p),
        "DescribeHealthStatus" => describe_health_status(slb, ecs, p),
        "DescribeVServerGroupAttribute" => describe_vserver_group_attribute(slb, p),
        "SetBackendServers" => set_backend_servers(slb, p),
        "SetVServerGroupAttribute" => set_vserver_group_attribute(slb, p),
        _ => return None,
    })
}

fn describe_load_balancer_attribute(slb: &Slb, p: &Params) -> Result<Value, RpcError> {
    let lb = slb.load_balancer(p.required("LoadBalancerId")?)?;
    Ok(json!({
        "LoadBalancerId": lb.load_balancer_id,
        "LoadBalancerName": lb.load_balancer_name,
        "LoadBalancerStatus": "active",
        "AddressType": "intranet",
        "NetworkType": "vpc",
        "ListenerPorts": {"ListenerPort": lb.listener_ports},
        "BackendServers": {"BackendServer": lb.backends.iter().map(|b| json!({
            "ServerId": b.server_id,
            "Weight": b.weight,
            "Type": "ecs",
        })).collect::<Vec<_>>()},
    }))
}

fn describe_health_status(slb: &Slb, ecs: &Ecs, p: &Params) -> Result<Value, RpcError> {
    let lb = slb.load_balancer(p.required("LoadBalancerId")?)?;
    let port = match p.get("ListenerPort") {
        Some(_) => Some(p.int("ListenerPort", 1, 65_535, 0)?),
        None => None,
    };
    let ports: Vec<u16> = lb
        .listener_ports
        .iter()
        .copied()
        .filter(|l| port.is_none_or(|p| i64::from(*l) == p))
        .collect();
    if port.is_some() && ports.is_empty() {
        return Err(RpcError::not_found(
            "ListenerNotFound",
            "You have not created a listener for the specified port of the load balancer.",
        ));
    }
    let mut servers = Vec::new();
    for listener in &ports {
        let members = lb
            .backends
            .iter()
            .map(|b| (b.server_id.as_str(), *listener))
            .chain(
                slb.vserver_groups
                    .iter()
                    .filter(|g| g.load_balancer_id == lb.load_balancer_id)
                    .flat_map(|g| g.backends.iter().map(|b| (b.server_id.as_str(), b.port))),
            );
        for (server, backend_port) in members {
            servers.push(json!({
                "ListenerPort": listener,
                "Protocol": "http",
                "ServerId": server,
                "Port": backend_port,
                "ServerHealthStatus": health(ecs, server),
                "Type": "ecs",
            }));
        }
    }
    Ok(json!({"BackendServers": {"BackendServer": servers}}))
}

fn describe_vserver_group_attribute(slb: &Slb, p: &Params) -> Result<Value, RpcError> {
    let id = p.required("VServerGroupId")?;
    let g = slb
        .vserver_groups
        .iter()
        .find(|g| g.vserver_group_id == id)
        .ok_or_else(group_not_found)?;
    Ok(vserver_group_answer(g))
}

fn vserver_group_answer(g: &VServerGroup) -> Value {
    json!({
        "VServerGroupId": g.vserver_group_id,
        "VServerGroupName": g.vserver_group_name,
        "LoadBalancerId": g.load_balancer_id,
        "BackendServers": {"BackendServer": g.backends.iter().map(|b| json!({
            "ServerId": b.server_id,
            "Port": b.port,
            "Weight": b.weight,
            "Type": "ecs",
        })).collect::<Vec<_>>()},
    })
}

/// One element of a `BackendServers` JSON list: its server, port (if any) and weight.
struct Wanted {
    server_id: String,
    port: Option<u16>,
    weight: u32,
}

/// A number given as a JSON number or a string of one (the documentation's examples quote
/// them).
fn number(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.trim().parse().ok())
}

fn backend_list(p: &Params) -> Result<Vec<Wanted>, RpcError> {
    let malformed = || {
        RpcError::bad_request(
            "BackendServersMalformed",
            "the specified parameter BackendServers is unavailable.",
        )
    };
    let raw = p.required("BackendServers")?;
    let items: Vec<Value> = serde_json::from_str(raw).map_err(|_| malformed())?;
    if items.len() > MAX_BACKENDS_PER_CALL {
        return Err(RpcError::bad_request(
            "TooManyBackendServers",
            format!(
                "The total number of input real servers exceeds max supported number: {MAX_BACKENDS_PER_CALL}"
            ),
        ));
    }
    items
        .iter()
        .map(|item| {
            let server_id = item["ServerId"].as_str().ok_or_else(malformed)?.to_owned();
            let weight = match item.get("Weight") {
                None => 100,
                Some(w) => number(w)
                    .and_then(|w| u32::try_from(w).ok())
                    .filter(|w| *w <= 100)
                    .ok_or_else(|| {
                        RpcError::bad_request(
                            "InvalidWeight.Malformed",
                            "A specified weight is not valid.",
                        )
                    })?,
            };
            let port = match item.get("Port") {
                None => None,
                Some(v) => Some(
                    number(v)
                        .and_then(|p| u16::try_from(p).ok())
                        .filter(|p| *p >= 1)
                        .ok_or_else(|| {
                            RpcError::bad_request(
                                "InvalidParameter",
                                "The specified BackendServers is invalid, as the Port value should be in [1, 65535].",
                            )
                        })?,
                ),
            };
            Ok(Wanted {
                server_id,
                port,
                weight,
            })
        })
        .collect()
}

fn set_backend_servers(slb: &mut Slb, p: &Params) -> Result<Value, RpcError> {
    let id = p.required("LoadBalancerId")?.to_owned();
    slb.load_balancer(&id)?;
    let wanted = backend_list(p)?;
    let lb = slb
        .load_balancers
        .iter_mut()
        .find(|lb| lb.load_balancer_id == id)
        .ok_or_else(lb_not_found)?;
    // All or nothing: every server must be a backend already.
    if wanted
        .iter()
        .any(|w| !lb.backends.iter().any(|b| b.server_id == w.server_id))
    {
        return Err(server_not_found());
    }
    for w in &wanted {
        for b in lb
            .backends
            .iter_mut()
            .filter(|b| b.server_id == w.server_id)
        {
            b.weight = w.weight;
        }
    }
    Ok(json!({
        "LoadBalancerId": lb.load_balancer_id,
        "BackendServers": {"BackendServer": lb.backends.iter().map(|b| json!({
            "ServerId": b.server_id,
            "Weight": b.weight.to_string(),
            "Type": "ecs",
        })).collect::<Vec<_>>()},
    }))
}

fn set_vserver_group_attribute(slb: &mut Slb, p: &Params) -> Result<Value, RpcError> {
    let id = p.required("VServerGroupId")?.to_owned();
    let wanted = match p.get("BackendServers") {
        Some(_) => backend_list(p)?,
        None => Vec::new(),
    };
    let group = slb.group_mut(&id)?;
    for w in &wanted {
        let Some(port) = w.port else {
            return Err(RpcError::bad_request(
                "InvalidParameter",
                "The specified BackendServers is invalid.",
            ));
        };
        if !group
            .backends
            .iter()
            .any(|b| b.server_id == w.server_id && b.port == port)
        {
            return Err(server_not_found());
        }
    }
    for w in &wanted {
        for b in group
            .backends
            .iter_mut()
            .filter(|b| b.server_id == w.server_id && Some(b.port) == w.port)
        {
            b.weight = w.weight;
        }
    }
    if let Some(name) = p.get("VServerGroupName") {
        group.vserver_group_name = name.to_owned();
    }
    Ok(vserver_group_answer(group))
}
