// Fate sharing, as in Ray: an actor that is not detached belongs to the process that created
// it — a driver, a task's worker, or another actor's worker — and dies with it. The head
// learns that an owner is gone three ways:
//  - a worker's exit, from its agent (`workerDied`);
//  - a driver's end, from a wire connection the head holds to every driver: the kernel closes
//    it however the driver ends (shutdown, exit, crash, SIGKILL), and a driver that answers no
//    ping for HELIOS_DRIVER_TIMEOUT_MS (its link is cut) counts as gone too (driver-watch.ts);
//  - a node's death: every worker on it is gone, and so is a driver that ran beside its agent.
// When a driver goes, its job ends: the job's actors owned by its workers go too (Ray stops a
// finished job's workers), except those under a detached actor, which outlive the job.
import type { ActorOwner, JobInfo } from "../src/protocol.js";
import type { ActorId, JobId, NodeId, WorkerId } from "../src/ids.js";
import { DriverWatch } from "./driver-watch.js";

/** Owners remembered as dead, so that an actor whose creation arrives after its owner died dies at once. */
const DEAD_OWNERS_KEPT = 10_000;

export interface OwnerTableHost {
  /** Is this worker one that hosts a detached actor, or an actor owned (transitively) by one? */
  underDetached(workerId: WorkerId): boolean;
  /** These actors' owner is gone: they die (`why` says so, for their death record). */
  ownerDied(actors: ActorId[], why: string): void;
  /** A job's driver is gone: the job has ended. */
  jobEnded(jobId: JobId): void;
}

export class OwnerTable {
  private owners = new Map<ActorId, ActorOwner>();
  private deadWorkers = new Set<WorkerId>();
  private endedJobs = new Set<JobId>();
  private drivers = new Map<JobId, DriverWatch>();

  constructor(private token: string, private host: OwnerTableHost) {}

  /** A non-detached actor and its owner; returns why it must die now when the owner is already gone. */
  add(actorId: ActorId, owner: ActorOwner): string | undefined {
    if (owner.driver ? this.endedJobs.has(owner.jobId) : this.deadWorkers.has(owner.workerId)) {
      return `its owner died before it was created (${owner.driver ? `the driver of job ${owner.jobId} ended` : `worker ${owner.workerId} exited`})`;
    }
    this.owners.set(actorId, owner);
    return undefined;
  }

  /** The actor is dead: nothing left to fate-share. */
  forget(actorId: ActorId): void { this.owners.delete(actorId); }

  /** Has this worker's exit been reported (recently)? */
  exited(workerId: WorkerId): boolean { return this.deadWorkers.has(workerId); }

  workerDied(workerId: WorkerId, nodeId: NodeId): void {
    remember(this.deadWorkers, workerId);
    this.kill((o) => !o.driver && o.workerId === workerId, `its owner died (worker ${workerId} on node ${nodeId} exited)`);
  }

  nodeDied(nodeId: NodeId): void {
    this.kill((o) => o.nodeId === nodeId, `its owner died (its node ${nodeId} died)`);
  }

  /** Watch a driver from the moment it registers its job, until its job ends. */
  watchDriver(job: JobInfo): void {
    if (this.drivers.has(job.jobId) || this.endedJobs.has(job.jobId)) return;
    this.drivers.set(job.jobId, new DriverWatch(job, this.token, (why) => this.driverGone(job.jobId, why)));
  }

  private driverGone(jobId: JobId, why: string): void {
    const w = this.drivers.get(jobId);
    if (!w) return;
    w.stop();
    this.drivers.delete(jobId);
    remember(this.endedJobs, jobId);
    this.host.jobEnded(jobId);
    this.kill((o) => o.jobId === jobId && (o.driver || !this.host.underDetached(o.workerId)), `its owner died (the driver of job ${jobId} ended: ${why})`);
  }

  private kill(match: (o: ActorOwner) => boolean, why: string): void {
    const doomed = [...this.owners].filter(([, o]) => match(o)).map(([id]) => id);
    for (const id of doomed) this.owners.delete(id);
    if (doomed.length) this.host.ownerDied(doomed, why);
  }

  close(): void { for (const w of this.drivers.values()) w.stop(); }
}

function remember<T>(set: Set<T>, v: T): void {
  set.add(v);
  if (set.size > DEAD_OWNERS_KEPT) set.delete(set.values().next().value!);
}
