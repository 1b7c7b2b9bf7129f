//! # reimage-sim: an emulated Alibaba Cloud region on loopback
