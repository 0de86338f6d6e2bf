package cluster

import "strings"

// NodeStatus is a node's view of the Raft group, for hastctl.
type NodeStatus struct {
	// Name is this node's name.
	Name string
	// State is this node's Raft state: "leader", "follower", "candidate"
	// or "shutdown".
	State string
	// Leader and LeaderAddr are the leader's name and Raft address as this
	// node knows them; empty without a leader.
	Leader, LeaderAddr string
	// Term is the current Raft term.
	Term uint64
	// LastIndex is the index of the last entry in this node's log.
	LastIndex uint64
	// CommitIndex is the index of the last entry known committed.
	CommitIndex uint64
	// AppliedIndex is the index of the last entry applied to the FSM.
	AppliedIndex uint64
	// Voters lists the servers of the latest Raft configuration.
	Voters []VoterStatus
}

// VoterStatus is one server of the Raft configuration.
type VoterStatus struct {
	// Name is the server's name (its Raft id).
	Name string
	// Address is its Raft address.
	Address string
	// Suffrage is "voter", "nonvoter" or "staging".
	Suffrage string
	// Health is its state in gossip; MemberUnknown when gossip is off.
	Health MemberState
	// Healthy is Health == MemberAlive.
	Healthy bool
}

// Status returns the node's view of the Raft group. It does not block on
// Raft's main loop and works after Shutdown too (State "shutdown").
func (n *Node) Status() NodeStatus {
	leaderAddr, leaderID := n.raft.LeaderWithID()
	st := NodeStatus{
		Name:         n.name,
		State:        strings.ToLower(n.raft.State().String()),
		Leader:       string(leaderID),
		LeaderAddr:   string(leaderAddr),
		Term:         n.raft.CurrentTerm(),
		LastIndex:    n.raft.LastIndex(),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.raft.AppliedIndex(),
	}
	select {
	case <-n.shutdownCh:
		// Raft's own state may still read follower after its shutdown.
		st.State = "shutdown"
	default:
	}
	// GetConfiguration answers from Raft's latest configuration at once;
	// its future never fails.
	f := n.raft.GetConfiguration()
	health := map[string]MemberState{}
	for _, m := range n.Members() {
		health[m.Name] = m.State
	}
	for _, s := range f.Configuration().Servers {
		h := health[string(s.ID)]
		st.Voters = append(st.Voters, VoterStatus{
			Name:     string(s.ID),
			Address:  string(s.Address),
			Suffrage: strings.ToLower(s.Suffrage.String()),
			Health:   h,
			Healthy:  h == MemberAlive,
		})
	}
	return st
}
