//! Snapshots of the digest endpoint's wire types (PROTOCOL.md, "Digests").

use roost_proto::*;

#[test]
fn digests_snapshot() {
    insta::assert_json_snapshot!(DigestQuery {
        from_seq: 1,
        to_seq: 1000,
        bucket: Some(256),
    });
    insta::assert_json_snapshot!(DigestsResponse {
        chat_id: "7a1f0e52-3c4b-4c1e-9a3e-1d2b3c4d5e6f".parse().unwrap(),
        last_seq: 300,
        rev: 310,
        bucket: 256,
        buckets: vec![
            DigestBucket {
                from_seq: 1,
                to_seq: 256,
                count: 256,
                digest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            },
            DigestBucket {
                from_seq: 257,
                to_seq: 300,
                count: 44,
                digest: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752".into(),
            },
        ],
        next_from_seq: None,
    });
}
