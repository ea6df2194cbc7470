//! Its own test binary: it sets NATS_SERVER_BIN, which is process-wide.

use std::os::unix::fs::PermissionsExt;

#[test]
#[should_panic(expected = "need >= 2.11")]
fn a_server_older_than_2_11_is_refused_with_install_hint() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("nats-server");
    std::fs::write(&fake, "#!/bin/sh\necho 'nats-server: v2.10.29'\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::env::set_var("NATS_SERVER_BIN", &fake);
    tributary_natskit::nats_server_bin();
}
