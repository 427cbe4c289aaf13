//! Information Elements: ids → names and abstract data types, and how a field's bytes become a
//! [`Value`].
//!
//! The table holds the IANA "IPFIX Information Elements" registry (RFC 7012 §4 and later
//! additions) up to id 491, names written in snake_case (`sourceIPv4Address` →
//! `source_ipv4_address`, as Filebeat writes them). NetFlow v9 field types 1–127 (RFC 3954
//! §8) are the ancestors of the same ids with the same meaning, and v9 exporters use IANA ids
//! above 127 too (Cisco ASA's 231/232, 233, 323 …), so one table serves both. v9 options
//! scope types (RFC 3954 §6.2) have their own small table, [`v9_scope_name`].
//!
//! Vendors' elements have tables of their own, named `<vendor>.<element>`: NetFlow v9 field
//! types of 32768 and up ([`V9_VENDOR`]: Cisco ASA, PAN-OS, nProbe) and IPFIX enterprise
//! elements by enterprise number ([`ENTERPRISE`]: NetScaler, YAF, Barracuda, Ixia, Procera,
//! Nokia, VMware, vIPtela, ntop). Ids in no table become `netflow.ie<id>`, enterprise elements
//! in no table `netflow.pen<PEN>.<id>`; both keep their bytes as lowercase hex. Reverse
//! elements of RFC 5103 biflows (PEN 29305) are `netflow.reverse_<name>`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use canh_core::Value;
use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 5103 §6.1: the private enterprise number whose elements are the reverse direction of
/// the IANA element with the same id.
pub const REVERSE_PEN: u32 = 29305;

/// Seconds between the NTP era 0 epoch (1900-01-01) and the Unix epoch: IPFIX
/// dateTimeMicroseconds and dateTimeNanoseconds are NTP timestamps (RFC 7011 §6.1.9).
const NTP_UNIX_OFFSET: i64 = 2_208_988_800;

/// An abstract data type (RFC 7012 §3.1), reduced to what decoding needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// unsigned8 … unsigned64 (any length 1–8, RFC 7011 §6.2 reduced-size encoding).
    Unsigned,
    /// signed8 … signed64.
    Signed,
    /// float32 or float64.
    Float,
    /// RFC 7011 §6.1.5: 1 is true, 2 is false.
    Bool,
    MacAddress,
    /// UTF-8 text; NetFlow v9 exporters pad fixed-length strings with NULs, which are cut.
    String,
    /// Opaque bytes (octetArray, lists, unknown elements), kept as lowercase hex.
    Octets,
    Ipv4,
    Ipv6,
    /// dateTimeSeconds: seconds since the Unix epoch.
    Seconds,
    /// dateTimeMilliseconds: milliseconds since the Unix epoch.
    Millis,
    /// dateTimeMicroseconds: an NTP timestamp whose 11 low fraction bits are ignored.
    Micros,
    /// dateTimeNanoseconds: an NTP timestamp.
    Nanos,
    /// Cisco ASA ACL id: 12 bytes shown as three 4-byte hex groups (ACL name id, ACE or
    /// object-group id, extended ACE id), as the ASA's `show access-list` prints them.
    AclId,
}

use Kind::{
    Bool as B, Float as F, Ipv4 as V4, Ipv6 as V6, MacAddress as Mac, Micros as Tus, Millis as Tms,
    Nanos as Tns, Octets as O, Seconds as Ts, Signed as I, String as S, Unsigned as U,
};

/// One registry entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ie {
    pub id: u16,
    pub name: &'static str,
    pub kind: Kind,
}

const fn ie(id: u16, name: &'static str, kind: Kind) -> Ie {
    Ie { id, name, kind }
}

/// Ids that the decoder reads for meaning (ECS fields, times, sampling, options).
pub mod id {
    pub const OCTET_DELTA_COUNT: u16 = 1;
    pub const PACKET_DELTA_COUNT: u16 = 2;
    pub const PROTOCOL_IDENTIFIER: u16 = 4;
    pub const TCP_CONTROL_BITS: u16 = 6;
    pub const SOURCE_TRANSPORT_PORT: u16 = 7;
    pub const SOURCE_IPV4_ADDRESS: u16 = 8;
    pub const INGRESS_INTERFACE: u16 = 10;
    pub const DESTINATION_TRANSPORT_PORT: u16 = 11;
    pub const DESTINATION_IPV4_ADDRESS: u16 = 12;
    pub const EGRESS_INTERFACE: u16 = 14;
    pub const FLOW_END_SYS_UP_TIME: u16 = 21;
    pub const FLOW_START_SYS_UP_TIME: u16 = 22;
    pub const POST_OCTET_DELTA_COUNT: u16 = 23;
    pub const POST_PACKET_DELTA_COUNT: u16 = 24;
    pub const SOURCE_IPV6_ADDRESS: u16 = 27;
    pub const DESTINATION_IPV6_ADDRESS: u16 = 28;
    pub const SAMPLING_INTERVAL: u16 = 34;
    pub const SAMPLER_ID: u16 = 48;
    pub const IP_VERSION: u16 = 60;
    pub const APPLICATION_NAME: u16 = 96;
    pub const SAMPLER_RANDOM_INTERVAL: u16 = 50;
    pub const INTERFACE_NAME: u16 = 82;
    pub const INTERFACE_DESCRIPTION: u16 = 83;
    pub const OCTET_TOTAL_COUNT: u16 = 85;
    pub const PACKET_TOTAL_COUNT: u16 = 86;
    pub const FLOW_START_SECONDS: u16 = 150;
    pub const FLOW_END_SECONDS: u16 = 151;
    pub const FLOW_START_MILLISECONDS: u16 = 152;
    pub const FLOW_END_MILLISECONDS: u16 = 153;
    pub const FLOW_START_MICROSECONDS: u16 = 154;
    pub const FLOW_END_MICROSECONDS: u16 = 155;
    pub const FLOW_START_NANOSECONDS: u16 = 156;
    pub const FLOW_END_NANOSECONDS: u16 = 157;
    pub const FLOW_START_DELTA_MICROSECONDS: u16 = 158;
    pub const FLOW_END_DELTA_MICROSECONDS: u16 = 159;
    pub const SYSTEM_INIT_TIME_MILLISECONDS: u16 = 160;
    pub const FLOW_DURATION_MILLISECONDS: u16 = 161;
    pub const FLOW_DURATION_MICROSECONDS: u16 = 162;
    pub const PADDING_OCTETS: u16 = 210;
    pub const POST_NAT_SOURCE_IPV4_ADDRESS: u16 = 225;
    pub const POST_NAT_DESTINATION_IPV4_ADDRESS: u16 = 226;
    pub const POST_NAPT_SOURCE_TRANSPORT_PORT: u16 = 227;
    pub const POST_NAPT_DESTINATION_TRANSPORT_PORT: u16 = 228;
    pub const FIREWALL_EVENT: u16 = 233;
    pub const POST_NAT_SOURCE_IPV6_ADDRESS: u16 = 281;
    pub const POST_NAT_DESTINATION_IPV6_ADDRESS: u16 = 282;
    pub const INITIATOR_OCTETS: u16 = 231;
    pub const RESPONDER_OCTETS: u16 = 232;
    pub const INITIATOR_PACKETS: u16 = 298;
    pub const RESPONDER_PACKETS: u16 = 299;
    pub const SELECTOR_ID: u16 = 302;
    pub const SAMPLING_PACKET_INTERVAL: u16 = 305;
    pub const SAMPLING_PACKET_SPACE: u16 = 306;
    pub const SAMPLING_SIZE: u16 = 309;
    pub const SAMPLING_POPULATION: u16 = 310;
    pub const LAYER2_OCTET_DELTA_COUNT: u16 = 352;
    // NetFlow v9 vendor field types (see [`super::V9_VENDOR`])
    pub const ASA_USERNAME: u16 = 40000;
    pub const ASA_XLATE_SOURCE_IPV4_ADDRESS: u16 = 40001;
    pub const ASA_XLATE_DESTINATION_IPV4_ADDRESS: u16 = 40002;
    pub const ASA_XLATE_SOURCE_PORT: u16 = 40003;
    pub const ASA_XLATE_DESTINATION_PORT: u16 = 40004;
    pub const ASA_FIREWALL_EVENT: u16 = 40005;
    pub const PANOS_APP_ID: u16 = 56701;
    pub const PANOS_USER_ID: u16 = 56702;
}

/// The IANA registry, sorted by id (a test checks the order and that names are unique).
#[rustfmt::skip]
pub static IANA: &[Ie] = &[
    ie(1, "octet_delta_count", U), ie(2, "packet_delta_count", U), ie(3, "delta_flow_count", U),
    ie(4, "protocol_identifier", U), ie(5, "ip_class_of_service", U), ie(6, "tcp_control_bits", U),
    ie(7, "source_transport_port", U), ie(8, "source_ipv4_address", V4),
    ie(9, "source_ipv4_prefix_length", U), ie(10, "ingress_interface", U),
    ie(11, "destination_transport_port", U), ie(12, "destination_ipv4_address", V4),
    ie(13, "destination_ipv4_prefix_length", U), ie(14, "egress_interface", U),
    ie(15, "ip_next_hop_ipv4_address", V4), ie(16, "bgp_source_as_number", U),
    ie(17, "bgp_destination_as_number", U), ie(18, "bgp_next_hop_ipv4_address", V4),
    ie(19, "post_mcast_packet_delta_count", U), ie(20, "post_mcast_octet_delta_count", U),
    ie(21, "flow_end_sys_up_time", U), ie(22, "flow_start_sys_up_time", U),
    ie(23, "post_octet_delta_count", U), ie(24, "post_packet_delta_count", U),
    ie(25, "minimum_ip_total_length", U), ie(26, "maximum_ip_total_length", U),
    ie(27, "source_ipv6_address", V6), ie(28, "destination_ipv6_address", V6),
    ie(29, "source_ipv6_prefix_length", U), ie(30, "destination_ipv6_prefix_length", U),
    ie(31, "flow_label_ipv6", U), ie(32, "icmp_type_code_ipv4", U), ie(33, "igmp_type", U),
    ie(34, "sampling_interval", U), ie(35, "sampling_algorithm", U),
    ie(36, "flow_active_timeout", U), ie(37, "flow_idle_timeout", U), ie(38, "engine_type", U),
    ie(39, "engine_id", U), ie(40, "exported_octet_total_count", U),
    ie(41, "exported_message_total_count", U), ie(42, "exported_flow_record_total_count", U),
    ie(43, "ipv4_router_sc", V4), ie(44, "source_ipv4_prefix", V4),
    ie(45, "destination_ipv4_prefix", V4), ie(46, "mpls_top_label_type", U),
    ie(47, "mpls_top_label_ipv4_address", V4), ie(48, "sampler_id", U), ie(49, "sampler_mode", U),
    ie(50, "sampler_random_interval", U), ie(51, "class_id", U), ie(52, "minimum_ttl", U),
    ie(53, "maximum_ttl", U), ie(54, "fragment_identification", U),
    ie(55, "post_ip_class_of_service", U), ie(56, "source_mac_address", Mac),
    ie(57, "post_destination_mac_address", Mac), ie(58, "vlan_id", U), ie(59, "post_vlan_id", U),
    ie(60, "ip_version", U), ie(61, "flow_direction", U), ie(62, "ip_next_hop_ipv6_address", V6),
    ie(63, "bgp_next_hop_ipv6_address", V6), ie(64, "ipv6_extension_headers", U),
    ie(70, "mpls_top_label_stack_section", O), ie(71, "mpls_label_stack_section2", O),
    ie(72, "mpls_label_stack_section3", O), ie(73, "mpls_label_stack_section4", O),
    ie(74, "mpls_label_stack_section5", O), ie(75, "mpls_label_stack_section6", O),
    ie(76, "mpls_label_stack_section7", O), ie(77, "mpls_label_stack_section8", O),
    ie(78, "mpls_label_stack_section9", O), ie(79, "mpls_label_stack_section10", O),
    ie(80, "destination_mac_address", Mac), ie(81, "post_source_mac_address", Mac),
    ie(82, "interface_name", S), ie(83, "interface_description", S), ie(84, "sampler_name", S),
    ie(85, "octet_total_count", U), ie(86, "packet_total_count", U),
    ie(87, "flags_and_sampler_id", U), ie(88, "fragment_offset", U),
    ie(89, "forwarding_status", U), ie(90, "mpls_vpn_route_distinguisher", O),
    ie(91, "mpls_top_label_prefix_length", U), ie(92, "src_traffic_index", U),
    ie(93, "dst_traffic_index", U), ie(94, "application_description", S),
    ie(95, "application_id", O), ie(96, "application_name", S),
    ie(98, "post_ip_diff_serv_code_point", U), ie(99, "multicast_replication_factor", U),
    ie(100, "class_name", S), ie(101, "classification_engine_id", U),
    ie(102, "layer2packet_section_offset", U), ie(103, "layer2packet_section_size", U),
    ie(104, "layer2packet_section_data", O), ie(128, "bgp_next_adjacent_as_number", U),
    ie(129, "bgp_prev_adjacent_as_number", U), ie(130, "exporter_ipv4_address", V4),
    ie(131, "exporter_ipv6_address", V6), ie(132, "dropped_octet_delta_count", U),
    ie(133, "dropped_packet_delta_count", U), ie(134, "dropped_octet_total_count", U),
    ie(135, "dropped_packet_total_count", U), ie(136, "flow_end_reason", U),
    ie(137, "common_properties_id", U), ie(138, "observation_point_id", U),
    ie(139, "icmp_type_code_ipv6", U), ie(140, "mpls_top_label_ipv6_address", V6),
    ie(141, "line_card_id", U), ie(142, "port_id", U), ie(143, "metering_process_id", U),
    ie(144, "exporting_process_id", U), ie(145, "template_id", U), ie(146, "wlan_channel_id", U),
    ie(147, "wlan_ssid", S), ie(148, "flow_id", U), ie(149, "observation_domain_id", U),
    ie(150, "flow_start_seconds", Ts), ie(151, "flow_end_seconds", Ts),
    ie(152, "flow_start_milliseconds", Tms), ie(153, "flow_end_milliseconds", Tms),
    ie(154, "flow_start_microseconds", Tus), ie(155, "flow_end_microseconds", Tus),
    ie(156, "flow_start_nanoseconds", Tns), ie(157, "flow_end_nanoseconds", Tns),
    ie(158, "flow_start_delta_microseconds", U), ie(159, "flow_end_delta_microseconds", U),
    ie(160, "system_init_time_milliseconds", Tms), ie(161, "flow_duration_milliseconds", U),
    ie(162, "flow_duration_microseconds", U), ie(163, "observed_flow_total_count", U),
    ie(164, "ignored_packet_total_count", U), ie(165, "ignored_octet_total_count", U),
    ie(166, "not_sent_flow_total_count", U), ie(167, "not_sent_packet_total_count", U),
    ie(168, "not_sent_octet_total_count", U), ie(169, "destination_ipv6_prefix", V6),
    ie(170, "source_ipv6_prefix", V6), ie(171, "post_octet_total_count", U),
    ie(172, "post_packet_total_count", U), ie(173, "flow_key_indicator", U),
    ie(174, "post_mcast_packet_total_count", U), ie(175, "post_mcast_octet_total_count", U),
    ie(176, "icmp_type_ipv4", U), ie(177, "icmp_code_ipv4", U), ie(178, "icmp_type_ipv6", U),
    ie(179, "icmp_code_ipv6", U), ie(180, "udp_source_port", U),
    ie(181, "udp_destination_port", U), ie(182, "tcp_source_port", U),
    ie(183, "tcp_destination_port", U), ie(184, "tcp_sequence_number", U),
    ie(185, "tcp_acknowledgement_number", U), ie(186, "tcp_window_size", U),
    ie(187, "tcp_urgent_pointer", U), ie(188, "tcp_header_length", U),
    ie(189, "ip_header_length", U), ie(190, "total_length_ipv4", U),
    ie(191, "payload_length_ipv6", U), ie(192, "ip_ttl", U), ie(193, "next_header_ipv6", U),
    ie(194, "mpls_payload_length", U), ie(195, "ip_diff_serv_code_point", U),
    ie(196, "ip_precedence", U), ie(197, "fragment_flags", U),
    ie(198, "octet_delta_sum_of_squares", U), ie(199, "octet_total_sum_of_squares", U),
    ie(200, "mpls_top_label_ttl", U), ie(201, "mpls_label_stack_length", U),
    ie(202, "mpls_label_stack_depth", U), ie(203, "mpls_top_label_exp", U),
    ie(204, "ip_payload_length", U), ie(205, "udp_message_length", U),
    ie(206, "is_multicast", U), ie(207, "ipv4_ihl", U), ie(208, "ipv4_options", U),
    ie(209, "tcp_options", U), ie(210, "padding_octets", O),
    ie(211, "collector_ipv4_address", V4), ie(212, "collector_ipv6_address", V6),
    ie(213, "export_interface", U), ie(214, "export_protocol_version", U),
    ie(215, "export_transport_protocol", U), ie(216, "collector_transport_port", U),
    ie(217, "exporter_transport_port", U), ie(218, "tcp_syn_total_count", U),
    ie(219, "tcp_fin_total_count", U), ie(220, "tcp_rst_total_count", U),
    ie(221, "tcp_psh_total_count", U), ie(222, "tcp_ack_total_count", U),
    ie(223, "tcp_urg_total_count", U), ie(224, "ip_total_length", U),
    ie(225, "post_nat_source_ipv4_address", V4), ie(226, "post_nat_destination_ipv4_address", V4),
    ie(227, "post_napt_source_transport_port", U),
    ie(228, "post_napt_destination_transport_port", U),
    ie(229, "nat_originating_address_realm", U), ie(230, "nat_event", U),
    ie(231, "initiator_octets", U), ie(232, "responder_octets", U), ie(233, "firewall_event", U),
    ie(234, "ingress_vrf_id", U), ie(235, "egress_vrf_id", U), ie(236, "vrf_name", S),
    ie(237, "post_mpls_top_label_exp", U), ie(238, "tcp_window_scale", U),
    ie(239, "biflow_direction", U), ie(240, "ethernet_header_length", U),
    ie(241, "ethernet_payload_length", U), ie(242, "ethernet_total_length", U),
    ie(243, "dot1q_vlan_id", U), ie(244, "dot1q_priority", U),
    ie(245, "dot1q_customer_vlan_id", U), ie(246, "dot1q_customer_priority", U),
    ie(247, "metro_evc_id", S), ie(248, "metro_evc_type", U), ie(249, "pseudo_wire_id", U),
    ie(250, "pseudo_wire_type", U), ie(251, "pseudo_wire_control_word", U),
    ie(252, "ingress_physical_interface", U), ie(253, "egress_physical_interface", U),
    ie(254, "post_dot1q_vlan_id", U), ie(255, "post_dot1q_customer_vlan_id", U),
    ie(256, "ethernet_type", U), ie(257, "post_ip_precedence", U),
    ie(258, "collection_time_milliseconds", Tms), ie(259, "export_sctp_stream_id", U),
    ie(260, "max_export_seconds", Ts), ie(261, "max_flow_end_seconds", Ts),
    ie(262, "message_md5_checksum", O), ie(263, "message_scope", U),
    ie(264, "min_export_seconds", Ts), ie(265, "min_flow_start_seconds", Ts),
    ie(266, "opaque_octets", O), ie(267, "session_scope", U),
    ie(268, "max_flow_end_microseconds", Tus), ie(269, "max_flow_end_milliseconds", Tms),
    ie(270, "max_flow_end_nanoseconds", Tns), ie(271, "min_flow_start_microseconds", Tus),
    ie(272, "min_flow_start_milliseconds", Tms), ie(273, "min_flow_start_nanoseconds", Tns),
    ie(274, "collector_certificate", O), ie(275, "exporter_certificate", O),
    ie(276, "data_records_reliability", B), ie(277, "observation_point_type", U),
    ie(278, "new_connection_delta_count", U), ie(279, "connection_sum_duration_seconds", U),
    ie(280, "connection_transaction_id", U), ie(281, "post_nat_source_ipv6_address", V6),
    ie(282, "post_nat_destination_ipv6_address", V6), ie(283, "nat_pool_id", U),
    ie(284, "nat_pool_name", S), ie(285, "anonymization_flags", U),
    ie(286, "anonymization_technique", U), ie(287, "information_element_index", U),
    ie(288, "p2p_technology", S), ie(289, "tunnel_technology", S),
    ie(290, "encrypted_technology", S), ie(291, "basic_list", O),
    ie(292, "sub_template_list", O), ie(293, "sub_template_multi_list", O),
    ie(294, "bgp_validity_state", U), ie(295, "ip_sec_spi", U), ie(296, "gre_key", U),
    ie(297, "nat_type", U), ie(298, "initiator_packets", U), ie(299, "responder_packets", U),
    ie(300, "observation_domain_name", S), ie(301, "selection_sequence_id", U),
    ie(302, "selector_id", U), ie(303, "information_element_id", U),
    ie(304, "selector_algorithm", U), ie(305, "sampling_packet_interval", U),
    ie(306, "sampling_packet_space", U), ie(307, "sampling_time_interval", U),
    ie(308, "sampling_time_space", U), ie(309, "sampling_size", U),
    ie(310, "sampling_population", U), ie(311, "sampling_probability", F),
    ie(312, "data_link_frame_size", U), ie(313, "ip_header_packet_section", O),
    ie(314, "ip_payload_packet_section", O), ie(315, "data_link_frame_section", O),
    ie(316, "mpls_label_stack_section", O), ie(317, "mpls_payload_packet_section", O),
    ie(318, "selector_id_total_pkts_observed", U), ie(319, "selector_id_total_pkts_selected", U),
    ie(320, "absolute_error", F), ie(321, "relative_error", F),
    ie(322, "observation_time_seconds", Ts), ie(323, "observation_time_milliseconds", Tms),
    ie(324, "observation_time_microseconds", Tus), ie(325, "observation_time_nanoseconds", Tns),
    ie(326, "digest_hash_value", U), ie(327, "hash_ip_payload_offset", U),
    ie(328, "hash_ip_payload_size", U), ie(329, "hash_output_range_min", U),
    ie(330, "hash_output_range_max", U), ie(331, "hash_selected_range_min", U),
    ie(332, "hash_selected_range_max", U), ie(333, "hash_digest_output", B),
    ie(334, "hash_initialiser_value", U), ie(335, "selector_name", S),
    ie(336, "upper_ci_limit", F), ie(337, "lower_ci_limit", F), ie(338, "confidence_level", F),
    ie(339, "information_element_data_type", U),
    ie(340, "information_element_description", S), ie(341, "information_element_name", S),
    ie(342, "information_element_range_begin", U), ie(343, "information_element_range_end", U),
    ie(344, "information_element_semantics", U), ie(345, "information_element_units", U),
    ie(346, "private_enterprise_number", U), ie(347, "virtual_station_interface_id", O),
    ie(348, "virtual_station_interface_name", S), ie(349, "virtual_station_uuid", O),
    ie(350, "virtual_station_name", S), ie(351, "layer2_segment_id", U),
    ie(352, "layer2_octet_delta_count", U), ie(353, "layer2_octet_total_count", U),
    ie(354, "ingress_unicast_packet_total_count", U),
    ie(355, "ingress_multicast_packet_total_count", U),
    ie(356, "ingress_broadcast_packet_total_count", U),
    ie(357, "egress_unicast_packet_total_count", U),
    ie(358, "egress_broadcast_packet_total_count", U),
    ie(359, "monitoring_interval_start_milli_seconds", Tms),
    ie(360, "monitoring_interval_end_milli_seconds", Tms), ie(361, "port_range_start", U),
    ie(362, "port_range_end", U), ie(363, "port_range_step_size", U),
    ie(364, "port_range_num_ports", U), ie(365, "sta_mac_address", Mac),
    ie(366, "sta_ipv4_address", V4), ie(367, "wtp_mac_address", Mac),
    ie(368, "ingress_interface_type", U), ie(369, "egress_interface_type", U),
    ie(370, "rtp_sequence_number", U), ie(371, "user_name", S),
    ie(372, "application_category_name", S), ie(373, "application_sub_category_name", S),
    ie(374, "application_group_name", S), ie(375, "original_flows_present", U),
    ie(376, "original_flows_initiated", U), ie(377, "original_flows_completed", U),
    ie(378, "distinct_count_of_source_ip_address", U),
    ie(379, "distinct_count_of_destination_ip_address", U),
    ie(380, "distinct_count_of_source_ipv4_address", U),
    ie(381, "distinct_count_of_destination_ipv4_address", U),
    ie(382, "distinct_count_of_source_ipv6_address", U),
    ie(383, "distinct_count_of_destination_ipv6_address", U),
    ie(384, "value_distribution_method", U), ie(385, "rfc3550_jitter_milliseconds", U),
    ie(386, "rfc3550_jitter_microseconds", U), ie(387, "rfc3550_jitter_nanoseconds", U),
    ie(388, "dot1q_dei", B), ie(389, "dot1q_customer_dei", B),
    ie(390, "flow_selector_algorithm", U), ie(391, "flow_selected_octet_delta_count", U),
    ie(392, "flow_selected_packet_delta_count", U), ie(393, "flow_selected_flow_delta_count", U),
    ie(394, "selector_id_total_flows_observed", U), ie(395, "selector_id_total_flows_selected", U),
    ie(396, "sampling_flow_interval", U), ie(397, "sampling_flow_spacing", U),
    ie(398, "flow_sampling_time_interval", U), ie(399, "flow_sampling_time_spacing", U),
    ie(400, "hash_flow_domain", U), ie(401, "transport_octet_delta_count", U),
    ie(402, "transport_packet_delta_count", U), ie(403, "original_exporter_ipv4_address", V4),
    ie(404, "original_exporter_ipv6_address", V6), ie(405, "original_observation_domain_id", U),
    ie(406, "intermediate_process_id", U), ie(407, "ignored_data_record_total_count", U),
    ie(408, "data_link_frame_type", U), ie(409, "section_offset", U),
    ie(410, "section_exported_octets", U), ie(411, "dot1q_service_instance_tag", O),
    ie(412, "dot1q_service_instance_id", U), ie(413, "dot1q_service_instance_priority", U),
    ie(414, "dot1q_customer_source_mac_address", Mac),
    ie(415, "dot1q_customer_destination_mac_address", Mac),
    ie(417, "post_layer2_octet_delta_count", U),
    ie(418, "post_mcast_layer2_octet_delta_count", U),
    ie(420, "post_layer2_octet_total_count", U),
    ie(421, "post_mcast_layer2_octet_total_count", U),
    ie(422, "minimum_layer2_total_length", U), ie(423, "maximum_layer2_total_length", U),
    ie(424, "dropped_layer2_octet_delta_count", U),
    ie(425, "dropped_layer2_octet_total_count", U),
    ie(426, "ignored_layer2_octet_total_count", U),
    ie(427, "not_sent_layer2_octet_total_count", U),
    ie(428, "layer2_octet_delta_sum_of_squares", U),
    ie(429, "layer2_octet_total_sum_of_squares", U), ie(430, "layer2_frame_delta_count", U),
    ie(431, "layer2_frame_total_count", U), ie(432, "pseudo_wire_destination_ipv4_address", V4),
    ie(433, "ignored_layer2_frame_total_count", U), ie(434, "mib_object_value_integer", I),
    ie(435, "mib_object_value_octet_string", O), ie(436, "mib_object_value_oid", O),
    ie(437, "mib_object_value_bits", O), ie(438, "mib_object_value_ip_address", V4),
    ie(439, "mib_object_value_counter", U), ie(440, "mib_object_value_gauge", U),
    ie(441, "mib_object_value_time_ticks", U), ie(442, "mib_object_value_unsigned", U),
    ie(443, "mib_object_value_table", O), ie(444, "mib_object_value_row", O),
    ie(445, "mib_object_identifier", O), ie(446, "mib_sub_identifier", U),
    ie(447, "mib_index_indicator", U), ie(448, "mib_capture_time_semantics", U),
    ie(449, "mib_context_engine_id", O), ie(450, "mib_context_name", S),
    ie(451, "mib_object_name", S), ie(452, "mib_object_description", S),
    ie(453, "mib_object_syntax", S), ie(454, "mib_module_name", S), ie(455, "mobile_imsi", S),
    ie(456, "mobile_msisdn", S), ie(457, "http_status_code", U),
    ie(458, "source_transport_ports_limit", U), ie(459, "http_request_method", S),
    ie(460, "http_request_host", S), ie(461, "http_request_target", S),
    ie(462, "http_message_version", S), ie(463, "nat_instance_id", U),
    ie(464, "internal_address_realm", O), ie(465, "external_address_realm", O),
    ie(466, "nat_quota_exceeded_event", U), ie(467, "nat_threshold_event", U),
    ie(468, "http_user_agent", S), ie(469, "http_content_type", S),
    ie(470, "http_reason_phrase", S), ie(471, "max_session_entries", U),
    ie(472, "max_bib_entries", U), ie(473, "max_entries_per_user", U),
    ie(474, "max_subscribers", U), ie(475, "max_fragments_pending_reassembly", U),
    ie(476, "address_pool_high_threshold", U), ie(477, "address_pool_low_threshold", U),
    ie(478, "address_port_mapping_high_threshold", U),
    ie(479, "address_port_mapping_low_threshold", U),
    ie(480, "address_port_mapping_per_user_high_threshold", U),
    ie(481, "global_address_mapping_high_threshold", U), ie(482, "vpn_identifier", O),
    ie(483, "bgp_community", U), ie(484, "bgp_source_community_list", O),
    ie(485, "bgp_destination_community_list", O), ie(486, "bgp_extended_community", O),
    ie(487, "bgp_source_extended_community_list", O),
    ie(488, "bgp_destination_extended_community_list", O), ie(489, "bgp_large_community", O),
    ie(490, "bgp_source_large_community_list", O),
    ie(491, "bgp_destination_large_community_list", O),
];

/// NetFlow v9 field types outside the IANA range (32768 and up) that vendors document for
/// their exporters, sorted by id. v9 carries no enterprise number, so these ids are read the
/// same from every exporter, as other collectors read them. Names are `<vendor>.<element>`.
#[rustfmt::skip]
pub static V9_VENDOR: &[Ie] = &[
    // Cisco ASA NetFlow Secure Event Logging (NSEL), "Cisco ASA NetFlow Implementation Guide"
    ie(33000, "cisco_asa.ingress_acl_id", Kind::AclId),
    ie(33001, "cisco_asa.egress_acl_id", Kind::AclId),
    ie(33002, "cisco_asa.firewall_extended_event", U),
    ie(40000, "cisco_asa.username", S),
    // ASA releases before 8.4 sent these where later ones send IANA 225-228 and 233
    ie(40001, "cisco_asa.xlate_source_ipv4_address", V4),
    ie(40002, "cisco_asa.xlate_destination_ipv4_address", V4),
    ie(40003, "cisco_asa.xlate_source_port", U),
    ie(40004, "cisco_asa.xlate_destination_port", U),
    ie(40005, "cisco_asa.firewall_event", U),
    // Palo Alto Networks PAN-OS NetFlow with "PAN-OS field types" on (templates 257/259/261/263)
    ie(56701, "paloalto.app_id", S),
    ie(56702, "paloalto.user_id", S),
    // ntop nProbe: IPFIX element 35632/N sent in v9 as 57472 + N
    ie(57590, "ntop.l7_proto", U),
    ie(57591, "ntop.l7_proto_name", S),
];

/// IPFIX enterprise-specific elements (RFC 7011 §3.2) of the exporters a province's data
/// center meets, by private enterprise number, each list sorted by id. Names are
/// `<vendor>.<element>`, the vendor's element name in snake_case. Sources: Citrix NetScaler's
/// AppFlow element file (5951), the CERT NetSA IPFIX registry (6871), ntop's nProbe element
/// list (35632); Barracuda (10704), Ixia (3054), Procera (15397), Nokia (637), VMware (6876)
/// and Cisco vIPtela (41916) ids are read as other collectors read them. The elements the
/// corpus captures carry are checked against the values logstash decodes from them
/// (`collectors/tests/netflow_corpus.rs`).
/// Elements of a known enterprise that are not listed stay `pen<PEN>.<id>` hex, as do
/// NetScaler's microsecond timing elements (a 0 there means "not measured").
#[rustfmt::skip]
pub static ENTERPRISE: &[(u32, &[Ie])] = &[
    (637, &[
        ie(91, "nokia.nat_inside_svcid", U),
        ie(92, "nokia.nat_outside_svcid", U),
        ie(93, "nokia.nat_sub_string", S),
    ]),
    (3054, &[
        ie(110, "ixia.l7_app_id", U), ie(111, "ixia.l7_app_name", S),
        ie(120, "ixia.src_country_code", S), ie(121, "ixia.src_country_name", S),
        ie(122, "ixia.src_region_code", S), ie(123, "ixia.src_region_name", S),
        ie(125, "ixia.src_city_name", S), ie(126, "ixia.src_latitude", F),
        ie(127, "ixia.src_longitude", F),
        ie(140, "ixia.dst_country_code", S), ie(141, "ixia.dst_country_name", S),
        ie(142, "ixia.dst_region_code", S), ie(143, "ixia.dst_region_name", S),
        ie(145, "ixia.dst_city_name", S), ie(146, "ixia.dst_latitude", F),
        ie(147, "ixia.dst_longitude", F),
        ie(160, "ixia.device_id", U), ie(161, "ixia.device_name", S),
        ie(162, "ixia.browser_id", U), ie(163, "ixia.browser_name", S),
        ie(176, "ixia.rev_octet_delta_count", U), ie(177, "ixia.rev_packet_delta_count", U),
        ie(178, "ixia.conn_encrypt_type", S), ie(179, "ixia.encrypt_cipher", S),
        ie(180, "ixia.encrypt_key_len", U), ie(181, "ixia.imsi_subscriber", S),
        ie(182, "ixia.http_user_agent", S), ie(183, "ixia.http_host_name", S),
        ie(184, "ixia.http_uri", S), ie(185, "ixia.dns_txt", S),
        ie(186, "ixia.src_as_name", S), ie(187, "ixia.dst_as_name", S),
        ie(188, "ixia.latency", U),
        ie(192, "ixia.threat_type", S), ie(193, "ixia.threat_ipv4", V4),
        ie(194, "ixia.threat_ipv6", V6),
    ]),
    (5951, &[
        ie(128, "netscaler.round_trip_time", U), ie(129, "netscaler.transaction_id", U),
        ie(130, "netscaler.http_req_url", S), ie(131, "netscaler.http_req_cookie", S),
        ie(132, "netscaler.flow_flags", U), ie(133, "netscaler.connection_id", U),
        ie(134, "netscaler.syslog_priority", U), ie(135, "netscaler.syslog_message", S),
        ie(136, "netscaler.syslog_timestamp", Tms),
        ie(140, "netscaler.http_req_referer", S), ie(141, "netscaler.http_req_method", S),
        ie(142, "netscaler.http_req_host", S), ie(143, "netscaler.http_req_user_agent", S),
        ie(144, "netscaler.http_rsp_status", U), ie(145, "netscaler.http_rsp_len", U),
        ie(146, "netscaler.server_ttfb", U), ie(147, "netscaler.server_ttlb", U),
        ie(150, "netscaler.app_name_incarnation_number", U),
        ie(151, "netscaler.app_name_app_id", U), ie(152, "netscaler.app_name", S),
        ie(161, "netscaler.main_page_id", U), ie(162, "netscaler.main_page_core_id", U),
        ie(167, "netscaler.app_template_name", S),
        ie(171, "netscaler.app_unit_name_app_id", U), ie(172, "netscaler.db_login_flags", U),
        ie(173, "netscaler.db_req_type", U), ie(174, "netscaler.db_protocol_name", U),
        ie(175, "netscaler.db_user_name", S), ie(176, "netscaler.db_database_name", S),
        ie(177, "netscaler.db_clt_host_name", S), ie(178, "netscaler.db_req_string", S),
        ie(179, "netscaler.db_resp_status_string", S),
        ie(180, "netscaler.db_resp_status", U), ie(181, "netscaler.db_resp_length", U),
        ie(182, "netscaler.client_rtt", U), ie(183, "netscaler.http_content_type", S),
        ie(185, "netscaler.http_req_authorization", S), ie(186, "netscaler.http_req_via", S),
        ie(187, "netscaler.http_res_location", S), ie(188, "netscaler.http_res_set_cookie", S),
        ie(189, "netscaler.http_res_set_cookie2", S),
        ie(190, "netscaler.http_req_x_forwarded_for", S),
        ie(192, "netscaler.connection_chain_id", O),
        ie(193, "netscaler.connection_chain_hop_count", U),
        ie(203, "netscaler.ica_client_ip", V4), ie(204, "netscaler.ica_client_host_name", S),
        ie(205, "netscaler.aaa_username", S), ie(207, "netscaler.ica_domain_name", S),
        ie(210, "netscaler.ica_server_name", S), ie(238, "netscaler.ica_application_name", S),
        ie(250, "netscaler.ica_username", S), ie(267, "netscaler.http_domain_name", S),
    ]),
    (6871, &[
        ie(14, "yaf.initial_tcp_flags", U), ie(15, "yaf.union_tcp_flags", U),
        ie(18, "yaf.payload", O), ie(21, "yaf.reverse_flow_delta_milliseconds", U),
        ie(30, "yaf.silk_flow_type", U), ie(31, "yaf.silk_flow_sensor", U),
        ie(32, "yaf.silk_tcp_state", U), ie(33, "yaf.silk_app_label", U),
        ie(35, "yaf.payload_entropy", U), ie(36, "yaf.os_name", S),
        ie(37, "yaf.os_version", S), ie(38, "yaf.first_packet_banner", O),
        ie(39, "yaf.second_packet_banner", O), ie(40, "yaf.flow_attributes", U),
        ie(100, "yaf.expired_fragment_count", U), ie(101, "yaf.assembled_fragment_count", U),
        ie(102, "yaf.mean_flow_rate", U), ie(103, "yaf.mean_packet_rate", U),
        ie(104, "yaf.flow_table_flush_event_count", U),
        ie(105, "yaf.flow_table_peak_count", U), ie(106, "yaf.flow_key_hash", U),
        ie(107, "yaf.os_fingerprint", S),
        ie(300, "yaf.ndpi_l7_protocol", U), ie(301, "yaf.ndpi_l7_sub_protocol", U),
    ]),
    (6876, &[
        ie(888, "vmware.egress_interface_attr", U), ie(889, "vmware.vxlan_export_role", U),
        ie(890, "vmware.ingress_interface_attr", U),
    ]),
    (10704, &[
        ie(1, "barracuda.timestamp", U), ie(2, "barracuda.log_op", U),
        ie(3, "barracuda.traffic_type", U), ie(4, "barracuda.fw_rule", S),
        ie(5, "barracuda.service_name", S), ie(6, "barracuda.reason", U),
        ie(7, "barracuda.reason_text", S), ie(8, "barracuda.bind_ipv4_address", V4),
        ie(9, "barracuda.bind_transport_port", U), ie(10, "barracuda.conn_ipv4_address", V4),
        ie(11, "barracuda.conn_transport_port", U), ie(12, "barracuda.audit_counter", U),
    ]),
    (15397, &[
        ie(1, "procera.service", S), ie(2, "procera.base_service", S),
        ie(3, "procera.incoming_octets", U), ie(4, "procera.outgoing_octets", U),
        ie(5, "procera.incoming_packets", U), ie(6, "procera.outgoing_packets", U),
        ie(15, "procera.flow_behavior", S), ie(16, "procera.content_categories", S),
        ie(17, "procera.property", S), ie(18, "procera.server_hostname", S),
        ie(19, "procera.http_request_method", S), ie(20, "procera.http_user_agent", S),
        ie(21, "procera.http_content_type", S), ie(22, "procera.http_url", S),
        ie(23, "procera.http_referer", S), ie(24, "procera.http_response_status", U),
        ie(25, "procera.http_file_length", U), ie(26, "procera.http_location", S),
        ie(27, "procera.http_language", S), ie(28, "procera.subscriber_identifier", S),
        ie(42, "procera.local_ipv4_host", V4), ie(43, "procera.local_ipv6_host", V6),
        ie(44, "procera.remote_ipv4_host", V4), ie(45, "procera.remote_ipv6_host", V6),
        ie(46, "procera.http_request_version", S), ie(47, "procera.template_name", S),
    ]),
    (NTOP_PEN, &[
        ie(118, "ntop.l7_proto", U), ie(119, "ntop.l7_proto_name", S),
    ]),
    (41916, &[
        ie(4321, "viptela.vpn_id", U),
    ]),
];

/// ntop's enterprise number; nProbe also sends its elements in NetFlow v9 as 57472 + id.
pub const NTOP_PEN: u32 = 35632;
/// CERT NetSA's enterprise number: its reverse elements are the forward id with this bit
/// (RFC 5103 §6.2 allows any enterprise to do so; CERT is the one whose tables here define
/// it, so other enterprises' ids with the bit stay `pen<PEN>.<id>` unless listed).
pub const CERT_PEN: u32 = 6871;
const CERT_REVERSE_BIT: u16 = 0x4000;

/// The entry of an enterprise element, if [`ENTERPRISE`] has it; for CERT's reverse ids,
/// the forward element's entry and `true`.
pub fn lookup_enterprise(pen: u32, id: u16) -> Option<(&'static Ie, bool)> {
    let k = ENTERPRISE.binary_search_by_key(&pen, |(p, _)| *p).ok()?;
    let table = ENTERPRISE[k].1;
    let find = |id: u16| {
        table
            .binary_search_by_key(&id, |e| e.id)
            .ok()
            .map(|k| &table[k])
    };
    match find(id) {
        Some(e) => Some((e, false)),
        None if pen == CERT_PEN && id & CERT_REVERSE_BIT != 0 => {
            find(id & !CERT_REVERSE_BIT).map(|e| (e, true))
        }
        None => None,
    }
}

/// The IANA entry for `id`, if the table has it.
pub fn lookup(id: u16) -> Option<&'static Ie> {
    IANA.binary_search_by_key(&id, |e| e.id)
        .ok()
        .map(|k| &IANA[k])
}

/// The vendor entry for a NetFlow v9 field type of 32768 and up ([`V9_VENDOR`]).
pub fn lookup_v9_vendor(id: u16) -> Option<&'static Ie> {
    V9_VENDOR
        .binary_search_by_key(&id, |e| e.id)
        .ok()
        .map(|k| &V9_VENDOR[k])
}

/// NetFlow v9 options scope field types (RFC 3954 §6.2).
pub fn v9_scope_name(id: u16) -> Option<&'static str> {
    Some(match id {
        1 => "scope_system",
        2 => "scope_interface",
        3 => "scope_line_card",
        4 => "scope_cache",
        5 => "scope_template",
        _ => return None,
    })
}

/// The field name (without the `netflow.` prefix) and kind of an element.
pub fn name_and_kind(id: u16, pen: u32) -> (std::borrow::Cow<'static, str>, Kind) {
    use std::borrow::Cow;
    match (pen, lookup(id)) {
        (0, Some(e)) => (Cow::Borrowed(e.name), e.kind),
        (0, None) => match lookup_v9_vendor(id) {
            Some(e) => (Cow::Borrowed(e.name), e.kind),
            None => (Cow::Owned(format!("ie{id}")), Kind::Octets),
        },
        (REVERSE_PEN, Some(e)) => (Cow::Owned(format!("reverse_{}", e.name)), e.kind),
        (pen, _) => match lookup_enterprise(pen, id) {
            Some((e, false)) => (Cow::Borrowed(e.name), e.kind),
            Some((e, true)) => {
                let (vendor, name) = e.name.split_once('.').unwrap_or(("", e.name));
                (Cow::Owned(format!("{vendor}.reverse_{name}")), e.kind)
            }
            None => (Cow::Owned(format!("pen{pen}.{id}")), Kind::Octets),
        },
    }
}

/// `event.action` of a firewallEvent value (IANA 233, RFC 8158; Cisco ASA's NF_F_FW_EVENT).
pub fn firewall_action(code: u8) -> Option<&'static str> {
    Some(match code {
        1 => "flow-created",
        2 => "flow-deleted",
        3 => "flow-denied",
        4 => "flow-alert",
        5 => "flow-update",
        _ => return None,
    })
}

/// Lowercase hex of `b`.
pub fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(char::from(DIGITS[usize::from(x >> 4)]));
        s.push(char::from(DIGITS[usize::from(x & 15)]));
    }
    s
}

/// Big-endian unsigned integer of 1 to 8 bytes.
pub fn be_uint(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 8 {
        return None;
    }
    Some(b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
}

fn be_int(b: &[u8]) -> Option<i64> {
    let u = be_uint(b)?;
    let shift = 64 - 8 * b.len() as u32;
    Some(((u << shift) as i64) >> shift)
}

/// An unsigned counter as a [`Value`]: `Int` while it fits in i64, else its decimal text.
pub fn uint_value(u: u64) -> Value {
    match i64::try_from(u) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::Str(u.to_string()),
    }
}

/// A MAC address as `aa:bb:cc:dd:ee:ff`.
pub fn mac(b: &[u8]) -> String {
    let mut s = String::with_capacity(17);
    for (k, x) in b.iter().enumerate() {
        if k > 0 {
            s.push(':');
        }
        s.push_str(&hex(&[*x]));
    }
    s
}

/// The instant a time element of `kind` names, if `b` has a length the type allows.
pub fn time_of(kind: Kind, b: &[u8]) -> Option<DateTime<Utc>> {
    let (secs, nanos) = time_parts(kind, b)?;
    DateTime::from_timestamp(secs, nanos)
}

/// Nanoseconds since the Unix epoch of a time element (`None` outside 1677–2262, what an
/// `i64` of nanoseconds holds). Same decoding as [`time_of`], without building a date.
pub fn time_ns(kind: Kind, b: &[u8]) -> Option<i64> {
    let (secs, nanos) = time_parts(kind, b)?;
    secs.checked_mul(1_000_000_000)?
        .checked_add(i64::from(nanos))
}

/// A time element as seconds since the Unix epoch and nanoseconds within the second.
fn time_parts(kind: Kind, b: &[u8]) -> Option<(i64, u32)> {
    match kind {
        Kind::Seconds => Some((i64::try_from(be_uint(b)?).ok()?, 0)),
        Kind::Millis => {
            let ms = i64::try_from(be_uint(b)?).ok()?;
            Some((ms / 1000, (ms % 1000) as u32 * 1_000_000))
        }
        Kind::Micros | Kind::Nanos if b.len() == 8 => {
            let secs = i64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            let mut frac = u64::from(u32::from_be_bytes([b[4], b[5], b[6], b[7]]));
            if kind == Kind::Micros {
                // RFC 7011 §6.1.9: the 11 low bits of the fraction carry no precision
                frac &= !0x7ff;
            }
            let nanos = ((frac * 1_000_000_000) >> 32) as u32;
            Some((secs - NTP_UNIX_OFFSET, nanos))
        }
        _ => None,
    }
}

/// `b` without the NUL bytes that pad fixed-length text fields (NetFlow v9 exporters).
pub fn trim_nul(b: &[u8]) -> &[u8] {
    &b[..b.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1)]
}

/// RFC 3339 text of an instant, with as many fraction digits as it has.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Decodes one field's bytes as `kind`. Empty fields (length 0, RFC 3954 allows them) have no
/// value. Bytes of a length the type does not allow are kept as hex, never dropped.
pub fn decode(kind: Kind, b: &[u8]) -> Option<Value> {
    if b.is_empty() {
        return None;
    }
    let v = match kind {
        Kind::Unsigned => be_uint(b).map(uint_value),
        Kind::Signed => be_int(b).map(Value::Int),
        Kind::Float => match b.len() {
            4 => Some(Value::Float(f64::from(f32::from_be_bytes([
                b[0], b[1], b[2], b[3],
            ])))),
            8 => Some(Value::Float(f64::from_be_bytes(b.try_into().ok()?))),
            _ => None,
        },
        Kind::Bool => match b {
            [1] => Some(Value::Bool(true)),
            [2] => Some(Value::Bool(false)),
            _ => None,
        },
        Kind::MacAddress if b.len() == 6 => Some(Value::Str(mac(b))),
        Kind::String => Some(Value::Str(
            String::from_utf8_lossy(trim_nul(b)).into_owned(),
        )),
        Kind::Ipv4 if b.len() == 4 => {
            Some(Value::Ip(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))))
        }
        Kind::Ipv6 if b.len() == 16 => {
            let a: [u8; 16] = b.try_into().ok()?;
            Some(Value::Ip(IpAddr::V6(Ipv6Addr::from(a))))
        }
        Kind::Seconds | Kind::Millis | Kind::Micros | Kind::Nanos => {
            time_of(kind, b).map(|t| Value::Str(rfc3339(t)))
        }
        Kind::AclId if b.len() == 12 => Some(Value::Str(format!(
            "{}-{}-{}",
            hex(&b[..4]),
            hex(&b[4..8]),
            hex(&b[8..])
        ))),
        _ => None,
    };
    Some(v.unwrap_or_else(|| Value::Str(hex(b))))
}

/// The IP address in a field of 4 or 16 bytes.
pub fn ip(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        16 => {
            let a: [u8; 16] = b.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

/// ECS `network.transport` for an IANA protocol number (lowercase keyword names of the IANA
/// "Protocol Numbers" registry for the common ones).
pub fn transport_name(proto: u8) -> Option<&'static str> {
    Some(match proto {
        0 => "hopopt",
        1 => "icmp",
        2 => "igmp",
        4 => "ipv4",
        6 => "tcp",
        8 => "egp",
        9 => "igp",
        17 => "udp",
        27 => "rdp",
        33 => "dccp",
        41 => "ipv6",
        43 => "ipv6-route",
        44 => "ipv6-frag",
        46 => "rsvp",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        59 => "ipv6-nonxt",
        60 => "ipv6-opts",
        88 => "eigrp",
        89 => "ospf",
        94 => "ipip",
        103 => "pim",
        112 => "vrrp",
        115 => "l2tp",
        132 => "sctp",
        136 => "udplite",
        137 => "mpls-in-ip",
        _ => return None,
    })
}

/// Names of the TCP flags set in `bits` (RFC 9293 order; `ns` is RFC 3540's nonce sum bit, the
/// ninth bit some exporters set in their 2-byte tcpControlBits).
pub fn tcp_flag_names(bits: u16) -> Vec<String> {
    const NAMES: [&str; 9] = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns"];
    NAMES
        .iter()
        .enumerate()
        .filter(|(k, _)| bits & (1 << k) != 0)
        .map(|(_, n)| (*n).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_names_unique() {
        let mut names = std::collections::HashSet::new();
        for w in IANA.windows(2) {
            assert!(w[0].id < w[1].id, "{} before {}", w[0].id, w[1].id);
        }
        for e in IANA {
            assert!(names.insert(e.name), "duplicate name {}", e.name);
            assert!(
                e.name
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'),
                "{} is not snake_case",
                e.name
            );
        }
    }

    #[test]
    fn vendor_table_is_sorted_outside_the_iana_range_and_named_by_vendor() {
        for w in V9_VENDOR.windows(2) {
            assert!(w[0].id < w[1].id, "{} before {}", w[0].id, w[1].id);
        }
        for e in V9_VENDOR {
            assert!(
                e.id >= 32768 && lookup(e.id).is_none(),
                "{} is an IANA id",
                e.id
            );
            let (vendor, name) = e.name.split_once('.').expect("vendor.element");
            assert!(!vendor.is_empty() && !name.contains('.'), "{}", e.name);
        }
        assert_eq!(name_and_kind(40000, 0).0, "cisco_asa.username");
        assert_eq!(name_and_kind(56701, 0).0, "paloalto.app_id");
        // in IPFIX an id with a PEN is the enterprise's, never the v9 table's
        assert_eq!(name_and_kind(40000, 9).0, "pen9.40000");
        assert_eq!(name_and_kind(39999, 0).0, "ie39999");
    }

    #[test]
    fn acl_ids_are_three_hex_groups_and_odd_lengths_stay_hex() {
        let b = [0x0f, 0x8e, 0x7f, 0xf3, 0xfc, 0x1a, 3, 0x0f, 0, 0, 0, 0];
        assert_eq!(
            decode(Kind::AclId, &b),
            Some(Value::Str("0f8e7ff3-fc1a030f-00000000".into()))
        );
        assert_eq!(
            decode(Kind::AclId, &b[..5]),
            Some(Value::Str("0f8e7ff3fc".into()))
        );
        assert_eq!(firewall_action(3), Some("flow-denied"));
        assert_eq!(firewall_action(0), None);
    }

    #[test]
    fn values_by_kind() {
        let cases: &[(Kind, &[u8], Value)] = &[
            (U, &[1, 0], Value::Int(256)),
            (U, &[0xff; 8], Value::Str(u64::MAX.to_string())),
            (U, &[0; 9], Value::Str("000000000000000000".into())),
            (I, &[0xff, 0xfe], Value::Int(-2)),
            (B, &[1], Value::Bool(true)),
            (B, &[2], Value::Bool(false)),
            (B, &[7], Value::Str("07".into())),
            (
                Mac,
                &[0, 0x50, 0x56, 0xc0, 0, 1],
                Value::Str("00:50:56:c0:00:01".into()),
            ),
            (S, b"kerberos\0\0\0", Value::Str("kerberos".into())),
            (O, &[0xde, 0xad], Value::Str("dead".into())),
            (V4, &[10, 0, 0, 1], Value::Ip("10.0.0.1".parse().unwrap())),
            (V4, &[10, 0, 0], Value::Str("0a0000".into())),
            (
                Ts,
                &[0x5a, 0x21, 0x8b, 0x9d],
                Value::Str("2017-12-01T17:04:29Z".into()),
            ),
            (
                Tms,
                &[0, 0, 1, 0x4d, 0x4d, 0, 0xe3, 0xc2],
                Value::Str("2015-05-13T11:20:13.506Z".into()),
            ),
            // NTP 2016-11-11T12:09:19 + 0.5 s
            (
                Tns,
                &[0xdb, 0xd0, 0x33, 0x6f, 0x80, 0, 0, 0],
                Value::Str("2016-11-11T12:09:19.500Z".into()),
            ),
            (F, &[0x3f, 0x80, 0, 0], Value::Float(1.0)),
        ];
        for (kind, bytes, want) in cases {
            assert_eq!(
                decode(*kind, bytes).as_ref(),
                Some(want),
                "{kind:?} {bytes:?}"
            );
        }
        assert_eq!(decode(U, &[]), None);
    }

    #[test]
    fn enterprise_tables_are_sorted_and_named_by_vendor() {
        let mut names = std::collections::HashSet::new();
        for w in ENTERPRISE.windows(2) {
            assert!(w[0].0 < w[1].0, "PEN {} before {}", w[0].0, w[1].0);
        }
        for (pen, table) in ENTERPRISE {
            assert!(*pen != 0 && *pen != REVERSE_PEN);
            for w in table.windows(2) {
                assert!(w[0].id < w[1].id, "{pen}: {} before {}", w[0].id, w[1].id);
            }
            let vendor = table[0].name.split_once('.').expect("vendor.element").0;
            for e in *table {
                assert!(names.insert(e.name.to_owned()), "duplicate name {}", e.name);
                if *pen == CERT_PEN {
                    // the names CERT's reverse ids get must not be forward names too
                    let (rev, _) = name_and_kind(e.id | 0x4000, *pen);
                    assert!(names.insert(rev.to_string()), "duplicate name {rev}");
                }
                let (v, name) = e.name.split_once('.').expect("vendor.element");
                assert_eq!(v, vendor, "{pen}: one vendor per enterprise");
                assert!(
                    !name.is_empty()
                        && name
                            .bytes()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'),
                    "{} is not vendor.snake_case",
                    e.name
                );
            }
        }
        assert_eq!(name_and_kind(130, 5951).0, "netscaler.http_req_url");
        assert_eq!(name_and_kind(4, 10704), ("barracuda.fw_rule".into(), S));
        // CERT's reverse elements: the forward id with bit 0x4000
        assert_eq!(name_and_kind(14, CERT_PEN).0, "yaf.initial_tcp_flags");
        assert_eq!(
            name_and_kind(14 | 0x4000, CERT_PEN).0,
            "yaf.reverse_initial_tcp_flags"
        );
        assert_eq!(name_and_kind(999 | 0x4000, CERT_PEN).0, "pen6871.17383");
        // the reverse bit means nothing for other enterprises
        assert_eq!(name_and_kind(130 | 0x4000, 5951).0, "pen5951.16514");
        assert_eq!(name_and_kind(118, NTOP_PEN).0, name_and_kind(57590, 0).0);
    }

    #[test]
    fn names_for_unknown_enterprise_and_reverse() {
        assert_eq!(name_and_kind(8, 0).0, "source_ipv4_address");
        assert_eq!(name_and_kind(60000, 0).0, "ie60000");
        assert_eq!(name_and_kind(1, REVERSE_PEN).0, "reverse_octet_delta_count");
        assert_eq!(name_and_kind(12, 5951).0, "pen5951.12");
    }

    #[test]
    fn tcp_flags() {
        assert_eq!(tcp_flag_names(0x12), ["syn", "ack"]);
        assert_eq!(tcp_flag_names(0x100 | 0x01), ["fin", "ns"]);
    }
}
