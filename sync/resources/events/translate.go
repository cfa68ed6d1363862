package events

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// VirtualEventName is the name of the virtual copy of a host event about
// the virtual object origin: the origin's name and a hash of the host
// event's uid, within the 253-character limit.
func VirtualEventName(origin string, hostUID string) string {
	sum := sha256.Sum256([]byte(hostUID))
	suffix := "." + hex.EncodeToString(sum[:8])
	if len(origin)+len(suffix) > 253 {
		origin = strings.TrimRight(origin[:253-len(suffix)], ".-")
	}
	return origin + suffix
}

// ToVirtualEvent translates a host event about a host copy into an event
// about its virtual object o: involved object, names in the message and
// the namespace are virtual; host names never reach the tenant.
func ToVirtualEvent(h *corev1.Event, o translate.Origin, hostName, hostNamespace string) *corev1.Event {
	msg := strings.ReplaceAll(h.Message, hostNamespace+"/"+hostName, o.Namespace+"/"+o.Name)
	msg = strings.ReplaceAll(msg, hostName, o.Name)
	v := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: VirtualEventName(o.Name, string(h.UID)), Namespace: o.Namespace},
		InvolvedObject: corev1.ObjectReference{
			Kind: o.Kind, APIVersion: h.InvolvedObject.APIVersion, Namespace: o.Namespace, Name: o.Name, UID: o.UID,
			FieldPath: h.InvolvedObject.FieldPath,
		},
		Reason: h.Reason, Message: msg, Type: h.Type, Count: h.Count,
		Source:              h.Source,
		FirstTimestamp:      h.FirstTimestamp,
		LastTimestamp:       h.LastTimestamp,
		EventTime:           h.EventTime,
		Action:              h.Action,
		ReportingController: h.ReportingController,
		ReportingInstance:   h.ReportingInstance,
	}
	if v.FirstTimestamp.IsZero() && v.EventTime.IsZero() {
		v.FirstTimestamp = h.CreationTimestamp
		v.LastTimestamp = h.CreationTimestamp
	}
	return v
}
