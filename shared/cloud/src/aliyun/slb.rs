//! Classic Load Balancer (product `Slb`, API version 2014-05-15): what a rollout reads of the
//! load balancers its group is attached to, and the weights it puts back.
//!
//! - DescribeLoadBalancerAttribute: <https://www.alibabacloud.com/help/en/slb/classic-load-balancer/developer-reference/api-slb-2014-05-15-describeloadbalancerattribute>
//! - DescribeHealthStatus: <https://www.alibabacloud.com/help/en/slb/classic-load-balancer/developer-reference/api-slb-2014-05-15-describehealthstatus>
//! - DescribeVServerGroupAttribute: <https://www.alibabacloud.com/help/doc-detail/35224.html>
//! - SetBackendServers: <https://www.alibabacloud.com/help/en/slb/classic-load-balancer/developer-reference/api-slb-2014-05-15-setbackendservers>
//! - SetVServerGroupAttribute: <https://www.alibabacloud.com/help/en/slb/classic-load-balancer/developer-reference/api-slb-2014-05-15-setvservergroupattribute>
//!
//! `BackendServers` goes as a JSON list of at most 20 servers; weights are 0 to 100. The
//! answers write `Weight` and `Port` as numbers or as strings, both read here.

use serde::Deserialize;

use super::error::{Error, RequestError};
use super::{Client, Params, RpcMethod, Service, lenient, validate};

/// Most servers one `BackendServers` list carries.
pub const MAX_BACKEND_SERVERS: usize = 20;

/// A server's weight, as a Set call takes it: `port` only in a vServer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weight {
    /// `ServerId`: the ECS instance.
    pub server_id: String,
    /// `Port`: the backend port (vServer groups).
    pub port: Option<u16>,
    /// `Weight`: 0 to 100.
    pub weight: u32,
}

fn backend_servers(weights: &[Weight]) -> Result<String, RequestError> {
    if weights.is_empty() || weights.len() > MAX_BACKEND_SERVERS {
        return Err(RequestError::new(
            "BackendServers",
            format!("must list 1 to {MAX_BACKEND_SERVERS} servers"),
        ));
    }
    let list: Vec<serde_json::Value> = weights
        .iter()
        .map(|w| {
            if w.weight > 100 {
                return Err(RequestError::new(
                    "BackendServers",
                    format!(
                        "weight {} of {} is not from 0 to 100",
                        w.weight, w.server_id
                    ),
                ));
            }
            validate::non_empty("BackendServers.ServerId", &w.server_id)?;
            let mut item = serde_json::json!({
                "ServerId": w.server_id,
                "Weight": w.weight,
                "Type": "ecs",
            });
            if let Some(port) = w.port {
                item["Port"] = port.into();
            }
            Ok(item)
        })
        .collect::<Result<_, _>>()?;
    Ok(serde_json::Value::Array(list).to_string())
}

/// A backend server in an answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BackendServer {
    /// `ServerId`.
    pub server_id: String,
    /// `Port` (vServer groups and health entries).
    #[serde(deserialize_with = "lenient::number")]
    pub port: i64,
    /// `Weight`.
    #[serde(deserialize_with = "lenient::number")]
    pub weight: i64,
    /// `ListenerPort` (health entries).
    #[serde(deserialize_with = "lenient::number")]
    pub listener_port: i64,
    /// `ServerHealthStatus` (health entries): `normal`, `abnormal` or `unavailable`.
    pub server_health_status: String,
}

/// `{"BackendServer": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BackendServers {
    /// `BackendServer`.
    pub backend_server: Vec<BackendServer>,
}

/// The answer of the five operations: the servers, and who they belong to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BackendsResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `LoadBalancerId`.
    pub load_balancer_id: String,
    /// `VServerGroupId` (vServer group operations).
    pub v_server_group_id: String,
    /// `LoadBalancerStatus` (DescribeLoadBalancerAttribute): `active`, `inactive`, `locked`.
    pub load_balancer_status: String,
    /// `BackendServers`.
    pub backend_servers: BackendServers,
}

/// CLB operations of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Slb<'a> {
    client: &'a Client,
}

impl<'a> Slb<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    fn params(&self) -> Params {
        let mut p = Params::new();
        p.put("RegionId", self.client.region_id());
        p
    }

    async fn call(
        &self,
        action: &str,
        params: Result<Params, RequestError>,
    ) -> Result<BackendsResponse, Error> {
        self.client
            .call_checked(Service::Slb, RpcMethod::Post, action, params)
            .await
    }

    /// A read of one resource named by `name`, which must not be empty.
    async fn describe(
        &self,
        action: &str,
        name: &str,
        id: &str,
    ) -> Result<BackendsResponse, Error> {
        let params = validate::non_empty(name, id).map(|()| {
            let mut p = self.params();
            p.put(name, id);
            p
        });
        self.call(action, params).await
    }

    /// `DescribeLoadBalancerAttribute`: the default server group's backends and weights.
    pub async fn describe_load_balancer_attribute(
        &self,
        load_balancer_id: &str,
    ) -> Result<BackendsResponse, Error> {
        self.describe(
            "DescribeLoadBalancerAttribute",
            "LoadBalancerId",
            load_balancer_id,
        )
        .await
    }

    /// `DescribeHealthStatus` of every listener: an entry per listener and backend.
    pub async fn describe_health_status(
        &self,
        load_balancer_id: &str,
    ) -> Result<BackendsResponse, Error> {
        self.describe("DescribeHealthStatus", "LoadBalancerId", load_balancer_id)
            .await
    }

    /// `DescribeVServerGroupAttribute`: the group's members, ports and weights.
    pub async fn describe_vserver_group_attribute(
        &self,
        vserver_group_id: &str,
    ) -> Result<BackendsResponse, Error> {
        self.describe(
            "DescribeVServerGroupAttribute",
            "VServerGroupId",
            vserver_group_id,
        )
        .await
    }

    /// `SetBackendServers`: the weights of backends of the default server group.
    pub async fn set_backend_servers(
        &self,
        load_balancer_id: &str,
        weights: &[Weight],
    ) -> Result<BackendsResponse, Error> {
        let params = validate::non_empty("LoadBalancerId", load_balancer_id)
            .and_then(|()| backend_servers(weights))
            .map(|list| {
                let mut p = self.params();
                p.put("LoadBalancerId", load_balancer_id)
                    .put("BackendServers", &list);
                p
            });
        self.call("SetBackendServers", params).await
    }

    /// `SetVServerGroupAttribute`: the weights of members of a vServer group (each with its
    /// port).
    pub async fn set_vserver_group_attribute(
        &self,
        vserver_group_id: &str,
        weights: &[Weight],
    ) -> Result<BackendsResponse, Error> {
        let params = validate::non_empty("VServerGroupId", vserver_group_id)
            .and_then(|()| {
                if let Some(w) = weights.iter().find(|w| w.port.is_none()) {
                    return Err(RequestError::new(
                        "BackendServers",
                        format!(
                            "{} has no port: a vServer group's members need one",
                            w.server_id
                        ),
                    ));
                }
                backend_servers(weights)
            })
            .map(|list| {
                let mut p = self.params();
                p.put("VServerGroupId", vserver_group_id)
                    .put("BackendServers", &list);
                p
            });
        self.call("SetVServerGroupAttribute", params).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_lists_are_json_and_checked() {
        let w = |weight: u32, port: Option<u16>| Weight {
            server_id: "i-1".into(),
            port,
            weight,
        };
        assert_eq!(
            backend_servers(&[w(80, None)]).unwrap(),
            r#"[{"ServerId":"i-1","Type":"ecs","Weight":80}]"#
        );
        assert!(
            backend_servers(&[w(80, Some(8080))])
                .unwrap()
                .contains(r#""Port":8080"#)
        );
        assert!(backend_servers(&[w(101, None)]).is_err());
        assert!(backend_servers(&[]).is_err());
        assert!(backend_servers(&vec![w(1, None); 21]).is_err());
    }

    #[test]
    fn answers_read_weights_written_either_way() {
        let r: BackendsResponse = serde_json::from_str(
            r#"{"RequestId":"R","BackendServers":{"BackendServer":[{"ServerId":"i-1","Weight":"100"},{"ServerId":"i-2","Weight":50,"Port":80}]}}"#,
        )
        .unwrap();
        let b = &r.backend_servers.backend_server;
        assert_eq!((b[0].weight, b[1].weight, b[1].port), (100, 50, 80));
    }
}
