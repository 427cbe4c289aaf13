//! canh-benches: shared inputs for the criterion benches and the load generator.
//!
//! [`generated_lines`] makes a deterministic mix of the syslog a provincial network sends
//! (sshd, sudo, FortiGate key=value, CEF, RFC 5424 with structured data, Cisco, Vietnamese
//! text), so benches and peer comparisons run on the same bytes without third-party files.

/// A deterministic mix of `n` syslog lines (without line ends).
pub fn generated_lines(n: usize) -> Vec<String> {
    let users = ["root", "admin", "oracle", "nguyenvana", "tran.thi.b", "ops"];
    let hosts = ["bastion01", "web02", "db03", "mail01", "portal-sotttt"];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..n)
        .map(|k| {
            let r = next();
            let user = users[(r % users.len() as u64) as usize];
            let host = hosts[((r >> 8) % hosts.len() as u64) as usize];
            let ip = format!("203.0.113.{}", (r >> 16) % 254 + 1);
            let port = 1024 + (r >> 24) % 60000;
            let (d, h, m, s) = (1 + k % 28, k % 24, (k / 24) % 60, k % 60);
            match k % 8 {
                0 => format!("<38>Nov {d:2} {h:02}:{m:02}:{s:02} {host} sshd[{}]: Failed password for invalid user {user} from {ip} port {port} ssh2", 1000 + k % 9000),
                1 => format!("<38>Nov {d:2} {h:02}:{m:02}:{s:02} {host} sshd[{}]: Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:Zm9vYmFy", 1000 + k % 9000),
                2 => format!("<85>Nov {d:2} {h:02}:{m:02}:{s:02} {host} sudo:   {user} : TTY=pts/{} ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx", k % 9),
                3 => format!("<189>date=2026-11-{d:02} time={h:02}:{m:02}:{s:02} devname=\"FGT-SoTTTT\" devid=\"FG100FTK19000001\" logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" level=\"notice\" srcip=10.10.{}.{} srcport={port} dstip={ip} dstport=443 action=\"deny\" policyid=12 service=\"HTTPS\"", r % 250, (r >> 4) % 250),
                4 => format!("<134>1 2026-11-{d:02}T{h:02}:{m:02}:{s:02}.250+07:00 waf01 waf - CEF - CEF:0|Security|WAF|2.1|981176|SQL injection attempt|9|src={ip} dst=10.20.0.5 spt={port} dpt=80 act=blocked"),
                5 => format!("<14>1 2026-11-{d:02}T{h:02}:{m:02}:{s:02}+07:00 {host} portal {} LOGIN [meta@32473 agency=\"So Noi vu\" user=\"{user}\"] Đăng nhập thất bại cho người dùng {user} từ {ip}", k % 30000),
                6 => format!("<190>{}: *Nov {d:2} {h:02}:{m:02}:{s:02}.123: %SEC-6-IPACCESSLOGP: list 101 denied tcp {ip}({port}) -> 10.0.0.1(23), 1 packet", k),
                _ => format!("<86>Nov {d:2} {h:02}:{m:02}:{s:02} {host} sshd[{}]: pam_unix(sshd:session): session opened for user {user}(uid=1001) by (uid=0)", 1000 + k % 9000),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn deterministic() {
        assert_eq!(super::generated_lines(50), super::generated_lines(50));
        assert_eq!(super::generated_lines(16).len(), 16);
    }
}
