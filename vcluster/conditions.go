package vcluster

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types on VirtualCluster.Status.Conditions.
const (
	// ConditionReady summarises: the control plane and the syncer are ready.
	ConditionReady = "Ready"
	// ConditionControlPlaneReady: the virtual API server (and its controller
	// manager and store) run and answer.
	ConditionControlPlaneReady = "ControlPlaneReady"
	// ConditionSyncerReady: the syncer for this virtual cluster runs.
	ConditionSyncerReady = "SyncerReady"
	// ConditionSleeping: the control plane is paused on purpose.
	ConditionSleeping = "Sleeping"
	// ConditionSpecValid: the spec passed validation and the provisioner is known.
	ConditionSpecValid = "SpecValid"
)

// Condition reasons.
const (
	ReasonProvisioning        = "Provisioning"
	ReasonRunning             = "Running"
	ReasonComponentDown       = "ComponentDown"
	ReasonStartFailed         = "StartFailed"
	ReasonInvalidSpec         = "InvalidSpec"
	ReasonUnknownProvisioner  = "UnknownProvisioner"
	ReasonConflict            = "Conflict"
	ReasonPaused              = "Paused"
	ReasonAwake               = "Awake"
	ReasonDeprovisioning      = "Deprovisioning"
	ReasonValid               = "Valid"
	ReasonBackingStoreInvalid = "BackingStoreInvalid"
)

// SetCondition sets a condition on the VirtualCluster's status, stamping
// the object's generation and keeping the transition time when the status is
// unchanged.
func SetCondition(vc *VirtualCluster, condType string, status metav1.ConditionStatus, reason, message string) bool {
	return meta.SetStatusCondition(&vc.Status.Conditions, metav1.Condition{
		Type: condType, Status: status, Reason: reason, Message: message,
		ObservedGeneration: vc.Generation,
	})
}

// ApplyHealth turns a provisioner's Health report into the
// ControlPlaneReady and Sleeping conditions and the phase, so a component
// that died shows up on the VirtualCluster. It reports whether anything
// changed.
func ApplyHealth(vc *VirtualCluster, h Health) bool {
	changed := false
	switch {
	case h.Sleeping:
		changed = SetCondition(vc, ConditionControlPlaneReady, metav1.ConditionFalse, ReasonPaused, "the control plane is sleeping") || changed
		changed = SetCondition(vc, ConditionSleeping, metav1.ConditionTrue, ReasonPaused, "paused; every object is kept") || changed
		changed = setPhase(vc, PhaseSleeping) || changed
	case h.Ready:
		changed = SetCondition(vc, ConditionControlPlaneReady, metav1.ConditionTrue, ReasonRunning, h.Summary()) || changed
		changed = SetCondition(vc, ConditionSleeping, metav1.ConditionFalse, ReasonAwake, "running") || changed
		changed = setPhase(vc, PhaseRunning) || changed
	default:
		changed = SetCondition(vc, ConditionControlPlaneReady, metav1.ConditionFalse, ReasonComponentDown, h.Summary()) || changed
		changed = SetCondition(vc, ConditionSleeping, metav1.ConditionFalse, ReasonAwake, "not sleeping") || changed
		changed = setPhase(vc, PhaseFailed) || changed
	}
	return changed
}

func setPhase(vc *VirtualCluster, p Phase) bool {
	if vc.Status.Phase == p {
		return false
	}
	vc.Status.Phase = p
	return true
}
