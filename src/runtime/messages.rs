//! The protobuf replies this page reads, derived with prost (no code generation step). Field
//! numbers and types are those of Device OS v2.3.1's `system/src/control/proto/config.pb.h` and
//! `cloud.pb.h` (generated from particle-iot/device-os-protobuf's `control/config.proto` and
//! `control/cloud.proto`). The requests of these types are empty messages, sent as no payload.

/// Reply to request 20 (`particle.ctrl.GetDeviceIdReply`): `string id = 1`, 24 lower-case hex
/// digits (`bytes2hexbuf_lower_case`, `control/config.cpp`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetDeviceIdReply {
    #[prost(string, tag = "1")]
    pub id: String,
}

/// Reply to request 30 (`particle.ctrl.GetSystemVersionReply`): `string version = 1`, the
/// `SYSTEM_VERSION_STRING` such as "2.3.1".
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetSystemVersionReply {
    #[prost(string, tag = "1")]
    pub version: String,
}

/// Reply to request 300 (`particle.ctrl.cloud.GetConnectionStatusReply`):
/// `ConnectionStatus status = 1`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetConnectionStatusReply {
    #[prost(int32, tag = "1")]
    pub status: i32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn replies_decode_from_nanopb_bytes() {
        // What nanopb writes: field 1, wire type 2 (length-delimited), length, bytes.
        let mut bytes = vec![0x0a, 24];
        bytes.extend_from_slice(b"3a0038000d47353033323637");
        let reply = GetDeviceIdReply::decode(&bytes[..]).unwrap();
        assert_eq!(reply.id, "3a0038000d47353033323637");
        let reply = GetSystemVersionReply::decode(&b"\x0a\x052.3.1"[..]).unwrap();
        assert_eq!(reply.version, "2.3.1");
        // An enum is a varint; a zero value is not written at all (proto3).
        assert_eq!(
            GetConnectionStatusReply::decode(&[0x08, 2][..])
                .unwrap()
                .status,
            2
        );
        assert_eq!(GetConnectionStatusReply::decode(&[][..]).unwrap().status, 0);
        assert!(GetDeviceIdReply::decode(&[0x0a, 30, b'a'][..]).is_err());
    }
}
