package api

import "time"

// Paths of the node's operational API (issue 12): logs with options, stats,
// node status, exec and Prometheus metrics.
const (
	// PathStats: GET → NodeStats (the collector's latest sample; pods
	// with their containers).
	PathStats = "/v1/stats"
	// PathNode: GET → NodeStatus (conditions, capacity, allocatable,
	// images).
	PathNode = "/v1/node"
	// PathExec: POST ?namespace=&pod=&container=&command=…&stdin=1&tty=1
	// with "Connection: Upgrade" and "Upgrade: ExecProtocol"; after 101
	// Switching Protocols the connection carries exec frames (exec.go of
	// each side documents the framing).
	PathExec = "/v1/exec"
	// PathMetrics: GET → Prometheus text exposition.
	PathMetrics = "/metrics"
)

// ExecProtocol is the Upgrade token of an exec stream; a change to the
// framing needs a new token.
const ExecProtocol = "stevedore-exec.v1"

// Log query parameters of PathLogs, besides namespace, pod, container and
// tail (their meaning is kubectl logs' flags').
const (
	QueryFollow       = "follow"       // "1": stream new lines, across rotations, until the container's log ends or the caller goes
	QueryPrevious     = "previous"     // "1": the previous instance of a restarted container
	QuerySinceSeconds = "sinceSeconds" // only lines written in the last N seconds
	QuerySinceTime    = "sinceTime"    // RFC 3339: only lines written at or after it
	QueryTimestamps   = "timestamps"   // "1": prefix each line with its RFC 3339 (nanosecond) time
	QueryLimitBytes   = "limitBytes"   // stop after N bytes
)

// LogOptions is what PathLogs is asked for. The zero value is the whole
// current log of the container, without timestamps.
type LogOptions struct {
	Container string
	// Tail > 0 keeps the last Tail lines (after Since); 0 means all,
	// unless TailSet.
	Tail int
	// TailSet makes a zero Tail mean no lines (kubectl's --tail=0: with
	// Follow, only the lines written from then on). It is the query's
	// tail=0; ParseLogOptions sets it only then.
	TailSet    bool
	Follow     bool
	Previous   bool
	Timestamps bool
	// SinceSeconds > 0 and a non-zero SinceTime both bound the start;
	// the later bound wins.
	SinceSeconds int64
	SinceTime    time.Time
	LimitBytes   int64
}

// Node condition types, with the kubelet's names.
const (
	NodeReady              = "Ready"
	NodeMemoryPressure     = "MemoryPressure"
	NodeDiskPressure       = "DiskPressure"
	NodePIDPressure        = "PIDPressure"
	TaintDiskPressure      = "node.kubernetes.io/disk-pressure"
	TaintMemoryPressure    = "node.kubernetes.io/memory-pressure"
	TaintPIDPressure       = "node.kubernetes.io/pid-pressure"
	ReasonEvicted          = "Evicted" // a pod's status reason after eviction
	EventEvicted           = "Evicted"
	EventImageGCFailed     = "ImageGCFailed"
	EventFreeDiskSpaceFail = "FreeDiskSpaceFailed"
)

// NodeCondition is one of a node's conditions, as Kubernetes' NodeCondition.
type NodeCondition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	Reason             string    `json:"reason,omitempty"`
	Message            string    `json:"message,omitempty"`
	LastTransitionTime time.Time `json:"lastTransitionTime,omitzero"`
}

// Image is one image in the node's containerd namespace.
type Image struct {
	Names []string `json:"names"`
	// Size is the unpacked size on disk (the snapshots), bytes.
	Size int64 `json:"sizeBytes"`
	// LastUsed is when a container last started from it (its creation
	// time if never); image GC removes the least recently used first.
	LastUsed time.Time `json:"lastUsed,omitzero"`
	// InUse is true while a container of a pod on this node uses it.
	InUse bool `json:"inUse,omitempty"`
}

// NodeStatus is what `ctl describe node` shows of the node itself.
type NodeStatus struct {
	Info          NodeInfo        `json:"info"`
	Capacity      Resources       `json:"capacity"`
	Conditions    []NodeCondition `json:"conditions"`
	Images        []Image         `json:"images,omitempty"`
	KernelVersion string          `json:"kernelVersion,omitempty"`
	OSImage       string          `json:"osImage,omitempty"`
	Time          time.Time       `json:"time,omitzero"`
}

// CPUStats is CPU use: a rate over the collector's last interval and the
// cumulative counter it was computed from.
type CPUStats struct {
	UsageNanoCores       uint64 `json:"usageNanoCores"`
	UsageCoreNanoSeconds uint64 `json:"usageCoreNanoSeconds"`
}

// MemoryStats is memory use in bytes. WorkingSet is usage minus inactive
// file pages (the kubelet's and cAdvisor's figure, what eviction and
// `ctl top` use).
type MemoryStats struct {
	UsageBytes      uint64 `json:"usageBytes"`
	WorkingSetBytes uint64 `json:"workingSetBytes"`
	RSSBytes        uint64 `json:"rssBytes"`
	// AvailableBytes is the node's (capacity − working set); zero for
	// pods and containers.
	AvailableBytes uint64 `json:"availableBytes,omitempty"`
}

// NetworkStats counts a pod's (or the node's) interface traffic.
type NetworkStats struct {
	RxBytes  uint64 `json:"rxBytes"`
	TxBytes  uint64 `json:"txBytes"`
	RxErrors uint64 `json:"rxErrors"`
	TxErrors uint64 `json:"txErrors"`
}

// FsStats is a file system's (or a directory's) use.
type FsStats struct {
	UsedBytes      uint64 `json:"usedBytes"`
	CapacityBytes  uint64 `json:"capacityBytes,omitempty"`
	AvailableBytes uint64 `json:"availableBytes,omitempty"`
	InodesUsed     uint64 `json:"inodesUsed,omitempty"`
	Inodes         uint64 `json:"inodes,omitempty"`
	InodesFree     uint64 `json:"inodesFree,omitempty"`
}

// ContainerStats is one running container's use.
type ContainerStats struct {
	Name      string      `json:"name"`
	StartTime time.Time   `json:"startTime,omitzero"`
	CPU       CPUStats    `json:"cpu"`
	Memory    MemoryStats `json:"memory"`
	// Rootfs is the container's writable layer; Logs its log files.
	Rootfs FsStats `json:"rootfs"`
	Logs   FsStats `json:"logs"`
}

// PodStats is one pod's use: the sum of its containers, plus its network.
type PodStats struct {
	Namespace  string           `json:"namespace"`
	Name       string           `json:"name"`
	UID        string           `json:"uid"`
	CPU        CPUStats         `json:"cpu"`
	Memory     MemoryStats      `json:"memory"`
	Network    NetworkStats     `json:"network"`
	Containers []ContainerStats `json:"containers"`
	// EphemeralStorage is the containers' writable layers, logs and
	// emptyDir volumes on the node's disk.
	EphemeralStorage FsStats `json:"ephemeralStorage"`
}

// NodeStats is the node's use and its pods', sampled by the agent's
// collector every interval (agent config StatsInterval).
type NodeStats struct {
	Node string    `json:"node"`
	Time time.Time `json:"time"`
	// Window is the interval the CPU rates are averaged over.
	Window time.Duration `json:"window"`
	// CollectDuration is how long taking this sample took (its cost,
	// with the rootfs and emptyDir sizes measured only every DuInterval).
	CollectDuration time.Duration `json:"collectDuration"`
	CPU             CPUStats      `json:"cpu"`
	Memory          MemoryStats   `json:"memory"`
	Network         NetworkStats  `json:"network"`
	// Fs is the file system of the agent's data dir (logs, volumes);
	// ImageFs that of containerd's root (images, writable layers).
	Fs      FsStats    `json:"fs"`
	ImageFs FsStats    `json:"imageFs"`
	Pods    []PodStats `json:"pods"`
}
