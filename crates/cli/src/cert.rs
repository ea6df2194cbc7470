//! `tributary cert`: a local certificate authority and a server certificate signed by it,
//! for TLS without a public CA. Clients trust `ca.pem` (e.g. `AWS_CA_BUNDLE=ca.pem`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};

#[derive(Args, Debug)]
pub struct CertArgs {
    /// Directory to write ca.pem, ca-key.pem, server.pem and server-key.pem into.
    #[arg(long, default_value = "tributary-tls")]
    pub out: PathBuf,
    /// Subject alternative names of the server certificate: DNS names or IP addresses.
    /// Repeat the flag for several. [default: localhost, 127.0.0.1, ::1]
    #[arg(long = "san")]
    pub sans: Vec<String>,
    /// Validity of the server certificate in days.
    #[arg(long, default_value_t = 825)]
    pub days: u32,
}

pub fn run(args: CertArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let sans = if args.sans.is_empty() {
        vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ]
    } else {
        args.sans.clone()
    };
    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Tributary local CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_after = days_from_now(3650);
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .context("signing the CA certificate")?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().context("generating the server key")?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, sans[0].clone());
    params.subject_alt_names = sans
        .iter()
        .map(|s| match s.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName(
                s.clone().try_into().with_context(|| format!("SAN {s:?}"))?,
            )),
        })
        .collect::<anyhow::Result<_>>()?;
    params.not_after = days_from_now(args.days as i64);
    let server_cert = params
        .signed_by(&server_key, &issuer)
        .context("signing the server certificate")?;

    write(&args.out.join("ca.pem"), &ca_cert.pem())?;
    write_secret(&args.out.join("ca-key.pem"), &issuer.key().serialize_pem())?;
    // The chain a client needs: the server certificate, then the CA that signed it.
    write(
        &args.out.join("server.pem"),
        &format!("{}{}", server_cert.pem(), ca_cert.pem()),
    )?;
    write_secret(
        &args.out.join("server-key.pem"),
        &server_key.serialize_pem(),
    )?;
    println!(
        "wrote {}/{{ca.pem,ca-key.pem,server.pem,server-key.pem}} for {}",
        args.out.display(),
        sans.join(", ")
    );
    println!(
        "serve:  tributary serve --tls-cert {0}/server.pem --tls-key {0}/server-key.pem",
        args.out.display()
    );
    println!("trust:  AWS_CA_BUNDLE={}/ca.pem", args.out.display());
    Ok(())
}

fn days_from_now(days: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::days(days)
}

fn write(p: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))
}

/// Private keys are readable by their owner only.
fn write_secret(p: &Path, text: &str) -> anyhow::Result<()> {
    write(p, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
