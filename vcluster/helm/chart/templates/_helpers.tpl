{{- define "vck.fullname" -}}{{ .Release.Name }}{{- end -}}

{{- define "vck.selectorLabels" -}}
app.kubernetes.io/name: vclusterkit-control-plane
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vck.labels" -}}
{{ include "vck.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vclusterkit
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
vcluster.vclusterkit.io/name: {{ required "name is required" .Values.name | quote }}
vcluster.vclusterkit.io/namespace: {{ .Values.owner.namespace | quote }}
{{- with .Values.owner.tenant }}
tenancy.vclusterkit.io/tenant: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "vck.annotations" -}}
vcluster.vclusterkit.io/owner: {{ printf "%s/%s" .Values.owner.namespace .Values.owner.name | quote }}
vcluster.vclusterkit.io/owner-uid: {{ .Values.owner.uid | quote }}
{{- end -}}

{{- define "vck.storeURL" -}}
{{- if eq .Values.backingStore.type "etcd" -}}{{ required "backingStore.dsn is required for etcd" .Values.backingStore.dsn }}{{- else -}}http://127.0.0.1:2379{{- end -}}
{{- end -}}
