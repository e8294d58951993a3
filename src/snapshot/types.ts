/**
 * The snapshot: everything kubectl-flannel knows about a cluster at one moment.
 *
 * It is the only thing analyzers read, so every check runs the same on a live cluster,
 * on a saved `--save` file and on a support bundle. It is plain JSON (no Dates, Maps or
 * classes) so that it round-trips through a file unchanged.
 *
 * Collection failures are data: every part that can fail is a `Collected<T>`, so an
 * analyzer can tell "not collected" from "empty" and stay silent on what it cannot see.
 *
 * The types are derived from the schema (schema.ts), which every snapshot read from a file
 * is validated against: add a field there, not here.
 */
import type * as S from './schema.js';
import type { Of } from './schema.js';

export { SCHEMA_VERSION } from './schema.js';

export type Collected<T> =
  | { readonly status: 'ok'; readonly data: T }
  | { readonly status: 'failed' | 'timeout' | 'skipped' | 'unavailable'; readonly error: string };

export type Snapshot = Of<typeof S.Snapshot>;
/**
 * What a snapshot says about the cluster as a whole, read before any host: the node checks see this, and
 * the hosts one at a time. `errors` and `underlayProbe` are the cluster phase's (ClusterScope).
 */
export type SnapshotHead = Pick<Snapshot, 'schemaVersion' | 'collectedAt' | 'source' | 'cluster'>;
export type SnapshotSource = Of<typeof S.SnapshotSource>;
export type CollectionError = Of<typeof S.CollectionError>;
export type UnderlayProbe = Of<typeof S.UnderlayProbe>;
export type UnderlayProbePair = Of<typeof S.UnderlayProbePair>;
export type UnderlaySamples = Of<typeof S.UnderlaySamples>;
export type SampleSource = Of<typeof S.SampleSource>;
export type SampleFlow = Of<typeof S.SampleFlow>;

// Kubernetes side
export type ClusterState = Of<typeof S.ClusterState>;
export type FlannelInstall = Of<typeof S.FlannelInstall>;
export type KubeNode = Of<typeof S.KubeNode>;
export type ConditionStatus = Of<typeof S.ConditionStatus>;
export type FlannelPod = Of<typeof S.FlannelPod>;
export type Packaging = Of<typeof S.Packaging>;

/** Annotation prefix flanneld was started with (`--kube-annotation-prefix`), normalised to end in `/` or `-`. */
export const DEFAULT_ANNOTATION_PREFIX = 'flannel.alpha.coreos.com/';

// net-conf.json
export type Backend = Of<typeof S.Backend>;
export type BackendType = Backend['type'];
export type NetConf = Of<typeof S.NetConf>;

// Node kernel state
export type HostState = Of<typeof S.HostState>;
export type RawCommand = Of<typeof S.RawCommand>;
export type Link = Of<typeof S.Link>;
export type VxlanInfo = Of<typeof S.VxlanInfo>;
export type Address = Of<typeof S.Address>;
export type Route = Of<typeof S.Route>;
export type RoutingRule = Of<typeof S.RoutingRule>;
export type Neighbour = Of<typeof S.Neighbour>;
export type FdbEntry = Of<typeof S.FdbEntry>;
export type XfrmKey = Of<typeof S.XfrmKey>;
export type XfrmState = Of<typeof S.XfrmState>;
export type XfrmPolicy = Of<typeof S.XfrmPolicy>;
export type WireguardDevice = Of<typeof S.WireguardDevice>;
export type CniState = Of<typeof S.CniState>;
export type SubnetEnv = Of<typeof S.SubnetEnv>;
export type Firewall = Of<typeof S.Firewall>;
export type IptablesDump = Of<typeof S.IptablesDump>;
export type IptablesTable = Of<typeof S.IptablesTable>;

// The generic Collected<T> must stay what the schema's Collected() describes.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const collectedMatchesSchema: Same<Of<ReturnType<typeof S.Collected<typeof S.Route>>>, Collected<Route>> = true;
void collectedMatchesSchema;
export type NodeNetConf = Of<typeof S.NodeNetConf>;
export type HttpProbe = Of<typeof S.HttpProbe>;
export type FlanneldHealth = Of<typeof S.FlanneldHealth>;
export type RouteDecision = Of<typeof S.RouteDecision>;
export type BridgePort = Of<typeof S.BridgePort>;
export type PodInterface = Of<typeof S.PodInterface>;
