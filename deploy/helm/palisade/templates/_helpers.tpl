{{- define "palisade.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "palisade.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: palisade
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ .root.Chart.Name }}-{{ .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "palisade.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: { drop: [ALL] }
seccompProfile: { type: RuntimeDefault }
{{- end -}}

{{- define "palisade.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile: { type: RuntimeDefault }
{{- end -}}

{{- define "palisade.env" -}}
envFrom:
  - configMapRef: { name: palisade-config }
env:
  - name: PALISADE_DATABASE_URL
    valueFrom: { secretKeyRef: { name: {{ .Values.secrets.name }}, key: database-url } }
  - name: PALISADE_SECRET_KEY
    valueFrom: { secretKeyRef: { name: {{ .Values.secrets.name }}, key: secret-key } }
{{- end -}}

{{- define "palisade.dnsEgress" -}}
- to:
    - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: kube-system } }
  ports:
    - { port: 53, protocol: UDP }
    - { port: 53, protocol: TCP }
{{- end -}}
