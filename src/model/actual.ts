/** One server as HAProxy runs it (read from `show servers state`, never remembered). */
export interface ActualServer {
  backend: string;
  name: string;
  /** HAProxy's server id (`srv_id`); `balance first` picks the lowest. */
  id?: number;
  address: string;
  port: number;
  /** Current (user) weight and the weight the config gave it. */
  weight: number;
  initialWeight: number;
  maint: boolean;
  drain: boolean;
  /** 0 stopped, 1 starting, 2 running, 3 stopping. */
  opState: number;
  adminState: number;
}
