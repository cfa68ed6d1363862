package main

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Backup is the user's own kind: a namespaced custom resource that a
// backup operator on the host acts on. Tenants create Backups in their
// virtual cluster; the operator on the host sees the synced copies and
// reports progress in their status, which flows back.
//
// A real project generates the deep-copy functions with controller-gen;
// they are written out here to keep the example self-contained.
type Backup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              BackupSpec   `json:"spec,omitempty"`
	Status            BackupStatus `json:"status,omitempty"`
}

// BackupSpec says what to back up and where the credentials are.
type BackupSpec struct {
	// Schedule in cron syntax.
	Schedule string `json:"schedule,omitempty"`
	// CredentialsSecret names a Secret in the Backup's namespace; the
	// syncer translates it to the Secret's host copy.
	CredentialsSecret string `json:"credentialsSecret,omitempty"`
	// Selector picks the pods whose volumes are backed up; the syncer
	// scopes it so it can only match the tenant's own pods.
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// BackupStatus is written by the operator on the host.
type BackupStatus struct {
	Phase   string `json:"phase,omitempty"`
	LastRun string `json:"lastRun,omitempty"`
}

// BackupList is a list of Backups.
type BackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Backup `json:"items"`
}

// GroupVersion of the example kind.
var GroupVersion = schema.GroupVersion{Group: "backup.example.com", Version: "v1"}

// AddToScheme registers Backup and BackupList.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Backup{}, &BackupList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// DeepCopyObject implements runtime.Object.
func (b *Backup) DeepCopyObject() runtime.Object {
	if b == nil {
		return nil
	}
	out := new(Backup)
	*out = *b
	out.ObjectMeta = *b.ObjectMeta.DeepCopy()
	out.Spec.Selector = b.Spec.Selector.DeepCopy()
	return out
}

// DeepCopyObject implements runtime.Object.
func (l *BackupList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := new(BackupList)
	*out = *l
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	out.Items = make([]Backup, len(l.Items))
	for i := range l.Items {
		out.Items[i] = *l.Items[i].DeepCopyObject().(*Backup)
	}
	return out
}

// CRD is the Backup CustomResourceDefinition, installed in both clusters.
func CRD() *apiextensionsv1.CustomResourceDefinition {
	str := apiextensionsv1.JSONSchemaProps{Type: "string"}
	preserve := true
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "backups." + GroupVersion.Group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: GroupVersion.Group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "backups", Singular: "backup", Kind: "Backup", ListKind: "BackupList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: GroupVersion.Version, Served: true, Storage: true,
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
							"schedule": str, "credentialsSecret": str,
							"selector": {Type: "object", XPreserveUnknownFields: &preserve},
						}},
						"status": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"phase": str, "lastRun": str}},
					},
				}},
			}},
		},
	}
}
