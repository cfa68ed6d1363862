package events_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/events"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

func TestHostEventsReachVirtualObject(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{Unfiltered: []client.Object{&corev1.Event{}}})
	ns := e.Namespace("app")
	ps, err := pods.New(pods.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.Start(ps, events.New())
	ctx := context.Background()
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	var h corev1.Pod
	synctest.Eventually(t, "host pod", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("web", ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})
	// an unmanaged host pod in the same namespace, and events about both.
	foreign := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "admin-pod", Namespace: e.HostNS}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
	if err := e.Host.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	for _, ev := range []*corev1.Event{
		{ObjectMeta: metav1.ObjectMeta{Name: "foreign.1", Namespace: e.HostNS}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: e.HostNS, Name: foreign.Name, UID: foreign.UID},
			Reason: "Pulled", Message: "host admin business", Type: corev1.EventTypeNormal, Count: 1, FirstTimestamp: now, LastTimestamp: now},
		{ObjectMeta: metav1.ObjectMeta{Name: h.Name + ".1", Namespace: e.HostNS}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: e.HostNS, Name: h.Name, UID: h.UID},
			Reason: "Scheduled", Message: "Successfully assigned " + e.HostNS + "/" + h.Name + " to node-1", Type: corev1.EventTypeNormal, Count: 1, FirstTimestamp: now, LastTimestamp: now,
			Source: corev1.EventSource{Component: "default-scheduler"}},
	} {
		if err := e.Host.Create(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	got := e.WaitEvent(ns, "web", "Scheduled", "Successfully assigned")
	if got.Message != "Successfully assigned "+ns+"/web to node-1" {
		t.Errorf("message %q still names host objects", got.Message)
	}
	if got.InvolvedObject.UID != v.UID || got.InvolvedObject.Namespace != ns {
		t.Errorf("involved object %+v, want the virtual pod", got.InvolvedObject)
	}
	var all corev1.EventList
	if err := e.Virtual.List(ctx, &all); err != nil {
		t.Fatal(err)
	}
	for _, ev := range all.Items {
		if strings.Contains(ev.Message, "host admin business") || strings.Contains(ev.Message, e.HostNS) {
			t.Errorf("host event leaked into the virtual cluster: %s/%s %q", ev.Namespace, ev.Name, ev.Message)
		}
	}
}
