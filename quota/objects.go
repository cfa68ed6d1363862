package quota

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Object-count quota keys, as ResourceQuota spells them.
const (
	ResourceCountPersistentVolumeClaims corev1.ResourceName = "count/persistentvolumeclaims"
	ResourceCountServices               corev1.ResourceName = "count/services"
)

// StorageClassSuffix joins a storage class name and a storage quota key into the
// per-class keys ResourceQuota uses, e.g. "fast.storageclass.storage.k8s.io/requests.storage".
const StorageClassSuffix = ".storageclass.storage.k8s.io/"

// annStorageClass is the deprecated beta annotation that names a claim's class when
// spec.storageClassName is unset; ResourceQuota still honours it.
const annStorageClass = "volume.beta.kubernetes.io/storage-class"

// StorageClassResource is the per-class quota key of res ("requests.storage" or
// "persistentvolumeclaims") for storage class class.
func StorageClassResource(class string, res corev1.ResourceName) corev1.ResourceName {
	return corev1.ResourceName(class + StorageClassSuffix + string(res))
}

// PersistentVolumeClaimUsage is what a claim is charged, with the keys ResourceQuota
// uses: persistentvolumeclaims and count/persistentvolumeclaims (1 each), requests.storage
// (spec.resources.requests.storage, rounded up to whole bytes), and, when the claim names
// a storage class, the per-class keys <class>.storageclass.storage.k8s.io/requests.storage
// and .../persistentvolumeclaims. The charge follows the spec, so an expansion (a larger
// request in an update) is charged when it is asked for; status.allocatedResources is
// not considered.
func PersistentVolumeClaimUsage(pvc *corev1.PersistentVolumeClaim) corev1.ResourceList {
	one := *resource.NewQuantity(1, resource.DecimalSI)
	out := corev1.ResourceList{
		corev1.ResourcePersistentVolumeClaims: one.DeepCopy(),
		ResourceCountPersistentVolumeClaims:   one.DeepCopy(),
	}
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	} else {
		class = pvc.Annotations[annStorageClass]
	}
	if class != "" {
		out[StorageClassResource(class, corev1.ResourcePersistentVolumeClaims)] = one.DeepCopy()
	}
	if req, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		req = req.DeepCopy()
		req.RoundUp(0)
		out[corev1.ResourceRequestsStorage] = req
		if class != "" {
			out[StorageClassResource(class, corev1.ResourceRequestsStorage)] = req.DeepCopy()
		}
	}
	return out
}

// ServiceUsage is what a Service is charged, as ResourceQuota counts it: services and
// count/services (1 each); services.loadbalancers 1 for type LoadBalancer; and
// services.nodeports the number of ports for type NodePort and LoadBalancer (for a
// LoadBalancer with allocateLoadBalancerNodePorts=false only the ports that name an
// explicit nodePort). Zero amounts are left out.
func ServiceUsage(svc *corev1.Service) corev1.ResourceList {
	out := corev1.ResourceList{
		corev1.ResourceServices: *resource.NewQuantity(1, resource.DecimalSI),
		ResourceCountServices:   *resource.NewQuantity(1, resource.DecimalSI),
	}
	nodePorts := int64(0)
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		nodePorts = int64(len(svc.Spec.Ports))
	case corev1.ServiceTypeLoadBalancer:
		out[corev1.ResourceServicesLoadBalancers] = *resource.NewQuantity(1, resource.DecimalSI)
		if a := svc.Spec.AllocateLoadBalancerNodePorts; a != nil && !*a {
			for _, p := range svc.Spec.Ports {
				if p.NodePort != 0 {
					nodePorts++
				}
			}
		} else {
			nodePorts = int64(len(svc.Spec.Ports))
		}
	}
	if nodePorts > 0 {
		out[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(nodePorts, resource.DecimalSI)
	}
	return out
}

// Increase is what going from old to updated usage adds: for every resource whose amount
// grows, the growth. Resources that shrink or stay are left out, so an empty result means
// the change needs no quota. It is what an update must be admitted for.
func Increase(old, updated corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range updated {
		d := v.DeepCopy()
		if o, ok := old[k]; ok {
			d.Sub(o)
		}
		if d.Sign() > 0 {
			out[k] = d
		}
	}
	return out
}
