//! Genesys Cloud regions and their hosts (FACTS.md §7, sources JS `PureCloudRegionHosts.js`,
//! PY `purecloud_region_hosts.py`, SDC). API host = `api.<domain>`, login host = `login.<domain>`.

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// AWS-style region id, as the SDKs' region keys use it (`eu-west-1`).
    pub id: &'static str,
    pub domain: &'static str,
    pub note: &'static str,
}

pub const REGIONS: &[Region] = &[
    Region {
        id: "us-east-1",
        domain: "mypurecloud.com",
        note: "",
    },
    Region {
        id: "us-east-2",
        domain: "use2.us-gov-pure.cloud",
        note: "FedRAMP",
    },
    Region {
        id: "us-west-2",
        domain: "usw2.pure.cloud",
        note: "",
    },
    Region {
        id: "ca-central-1",
        domain: "cac1.pure.cloud",
        note: "",
    },
    Region {
        id: "sa-east-1",
        domain: "sae1.pure.cloud",
        note: "",
    },
    Region {
        id: "mx-central-1",
        domain: "mxc1.pure.cloud",
        note: "",
    },
    Region {
        id: "eu-west-1",
        domain: "mypurecloud.ie",
        note: "",
    },
    Region {
        id: "eu-west-2",
        domain: "euw2.pure.cloud",
        note: "",
    },
    Region {
        id: "eu-central-1",
        domain: "mypurecloud.de",
        note: "",
    },
    Region {
        id: "eu-central-2",
        domain: "euc2.pure.cloud",
        note: "",
    },
    Region {
        id: "eusc-de-east-1",
        domain: "edee1.eusc-pure.cloud",
        note: "EU sovereign",
    },
    Region {
        id: "me-central-1",
        domain: "mec1.pure.cloud",
        note: "",
    },
    Region {
        id: "ap-south-1",
        domain: "aps1.pure.cloud",
        note: "",
    },
    Region {
        id: "ap-southeast-1",
        domain: "apse1.pure.cloud",
        note: "",
    },
    Region {
        id: "ap-southeast-2",
        domain: "mypurecloud.com.au",
        note: "",
    },
    Region {
        id: "ap-northeast-1",
        domain: "mypurecloud.jp",
        note: "",
    },
    Region {
        id: "ap-northeast-2",
        domain: "apne2.pure.cloud",
        note: "",
    },
    Region {
        id: "ap-northeast-3",
        domain: "apne3.pure.cloud",
        note: "",
    },
];

impl Region {
    /// Finds a region by domain (`mypurecloud.ie`), region id (`eu-west-1`), or SDK key
    /// (`eu_west_1`); a leading `api.`/`login.` or scheme is tolerated because users paste hosts.
    pub fn lookup(name: &str) -> Result<&'static Region, Error> {
        let n = name.trim().trim_end_matches('/').to_ascii_lowercase();
        let n = n
            .strip_prefix("https://")
            .or_else(|| n.strip_prefix("http://"))
            .unwrap_or(&n);
        let n = n
            .strip_prefix("api.")
            .or_else(|| n.strip_prefix("login."))
            .unwrap_or(n);
        let as_id = n.replace('_', "-");
        REGIONS
            .iter()
            .find(|r| r.domain == n || r.id == as_id)
            .ok_or_else(|| Error::UnknownRegion {
                name: name.to_owned(),
                suggestion: Self::suggestion(n, &as_id),
                valid: Self::valid_list(),
            })
    }

    /// `did you mean ...? ` for a name one typo away from a region's domain or id, the region
    /// named both ways (whichever way it was typed, the user learns the other); else empty.
    fn suggestion(domain: &str, id: &str) -> String {
        // Domains and ids are compared each with their own kind: `eu-wset-1` is near
        // `eu-west-1`, and a dotted name only near a domain.
        let near = if domain.contains('.') {
            crate::spelling::nearest(domain, REGIONS.iter().map(|r| r.domain))
                .and_then(|d| REGIONS.iter().find(|r| r.domain == d))
        } else {
            crate::spelling::nearest(id, REGIONS.iter().map(|r| r.id))
                .and_then(|i| REGIONS.iter().find(|r| r.id == i))
        };
        near.map_or_else(String::new, |r| {
            format!("did you mean {} ({})? ", r.domain, r.id)
        })
    }

    /// Whether `host` (port ignored) can carry Genesys Cloud traffic: a host under a region's
    /// domain (`api.`, `login.`, `apps.`, ...), or a local one (`localhost`, a name without a dot,
    /// a loopback or private address), which is where triage, a mock or a gateway would sit.
    /// A HAR from a browser also holds other sites' calls (fonts, analytics, another identity
    /// provider); rules written for the Platform API must not explain those.
    pub fn is_genesys_or_local(host: &str) -> bool {
        let h = match host.strip_prefix('[') {
            // [::1]:8787
            Some(rest) => rest.split(']').next().unwrap_or(rest),
            None if host.matches(':').count() > 1 => host, // a bare IPv6 address
            None => host.split(':').next().unwrap_or(host),
        };
        let h = h.trim_end_matches('.').to_ascii_lowercase();
        if let Ok(ip) = h.parse::<std::net::IpAddr>() {
            return match ip {
                std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
                std::net::IpAddr::V6(v6) => {
                    v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00
                }
            };
        }
        if h == "localhost" || h.ends_with(".localhost") || !h.contains('.') {
            return true;
        }
        REGIONS.iter().any(|r| {
            h == r.domain
                || h.strip_suffix(r.domain)
                    .is_some_and(|sub| sub.ends_with('.'))
        })
    }

    /// The region whose api or login host is `host` (port ignored).
    pub fn for_host(host: &str) -> Option<&'static Region> {
        let h = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
        let d = h
            .strip_prefix("api.")
            .or_else(|| h.strip_prefix("login."))?;
        REGIONS.iter().find(|r| r.domain == d)
    }

    pub fn api_url(&self) -> String {
        format!("https://api.{}", self.domain)
    }

    pub fn login_url(&self) -> String {
        format!("https://login.{}", self.domain)
    }

    /// The regions as `triage proxy --help` lists them: one a line, domain then id.
    pub fn help_table() -> String {
        let mut s = String::from("Regions (--region takes the domain or the id):\n");
        for r in REGIONS {
            let note = if r.note.is_empty() {
                String::new()
            } else {
                format!("  ({})", r.note)
            };
            s.push_str(&format!("  {:24} {}{note}\n", r.domain, r.id));
        }
        s
    }

    pub fn valid_list() -> String {
        REGIONS
            .iter()
            .map(|r| format!("{} ({})", r.domain, r.id))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_domain_id_and_sdk_key() {
        assert_eq!(Region::lookup("mypurecloud.ie").unwrap().id, "eu-west-1");
        assert_eq!(
            Region::lookup("eu-west-1").unwrap().domain,
            "mypurecloud.ie"
        );
        assert_eq!(
            Region::lookup("EU_WEST_1").unwrap().domain,
            "mypurecloud.ie"
        );
        assert_eq!(
            Region::lookup("https://api.mypurecloud.de/").unwrap().id,
            "eu-central-1"
        );
        assert_eq!(REGIONS.len(), 18);
    }

    #[test]
    fn a_misspelt_region_brings_a_suggestion_and_the_list() {
        for (typed, meant) in [
            (
                "mypurecloud.iee",
                "did you mean mypurecloud.ie (eu-west-1)? ",
            ),
            ("eu-wset-1", "did you mean mypurecloud.ie (eu-west-1)? "),
            (
                "https://api.mypurecloud.con",
                "did you mean mypurecloud.com (us-east-1)? ",
            ),
            (
                "ap_southeast_3",
                "did you mean apse1.pure.cloud (ap-southeast-1)? ",
            ),
        ] {
            let e = Region::lookup(typed).unwrap_err().to_string();
            let want = format!(
                "unknown region {typed:?}; {meant}valid regions are: {}",
                Region::valid_list()
            );
            assert_eq!(e, want, "--region {typed}");
        }
        let e = Region::lookup("nowhere").unwrap_err().to_string();
        assert!(
            !e.contains("did you mean") && e.contains("valid regions are: mypurecloud.com"),
            "no region is near \"nowhere\": expected the list alone, got {e}"
        );
    }

    #[test]
    fn unknown_region_lists_valid_ones() {
        let e = Region::lookup("mypurecloud.fr").unwrap_err().to_string();
        assert!(
            e.contains("mypurecloud.fr") && e.contains("mypurecloud.ie (eu-west-1)"),
            "{e}"
        );
    }

    #[test]
    fn genesys_and_local_hosts_are_told_from_others() {
        for h in [
            "api.mypurecloud.com",
            "login.mypurecloud.ie:443",
            "apps.apne3.pure.cloud",
            "localhost:8787",
            "127.0.0.1:8787",
            "[::1]:8787",
            "10.1.2.3",
            "192.168.0.10:80",
            "triage",
        ] {
            assert!(
                Region::is_genesys_or_local(h),
                "{h} should count as Genesys or local"
            );
        }
        for h in [
            "fonts.googleapis.com",
            "mytenant.eu.auth0.com",
            "evilmypurecloud.com",
            "mypurecloud.com.example.org",
            "8.8.8.8",
        ] {
            assert!(
                !Region::is_genesys_or_local(h),
                "{h} should not count as Genesys"
            );
        }
    }

    #[test]
    fn for_host_finds_region() {
        assert_eq!(
            Region::for_host("login.mypurecloud.jp:443").unwrap().id,
            "ap-northeast-1"
        );
        assert!(Region::for_host("example.com").is_none());
    }
}
