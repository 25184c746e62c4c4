{{- define "vend.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "vend.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "vend.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "vend.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The pod spec shared by both roles; .role is controller or gateway. */}}
{{- define "vend.podSpec" -}}
{{- $v := .root.Values -}}
{{- $c := index $v .role -}}
serviceAccountName: {{ include "vend.fullname" .root }}-{{ .role }}
automountServiceAccountToken: true
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: {{ .role }}
    image: {{ include "vend.image" .root }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    args: [serve, --engine, kubernetes, --role, {{ .role }}]
    env:
      - name: VEND_HOME
        value: /var/lib/vend
      - name: VEND_STACK_CONFIG
        value: /etc/vend/stack.yaml
      - name: VEND_NAMESPACE
        valueFrom: { fieldRef: { fieldPath: metadata.namespace } }
      - name: POD_NAME
        valueFrom: { fieldRef: { fieldPath: metadata.name } }
      {{- if $v.database.existingSecret }}
      - name: DATABASE_URL
        valueFrom: { secretKeyRef: { name: {{ $v.database.existingSecret }}, key: {{ $v.database.key }} } }
      {{- end }}
      {{- if and $v.wallet.existingSecret (eq .role "gateway") }}
      - name: VEND_WALLET_FILE
        value: /var/run/vend/wallet/keystore.json
      - name: VEND_WALLET_PASSPHRASE
        valueFrom: { secretKeyRef: { name: {{ $v.wallet.existingSecret }}, key: {{ $v.wallet.passphraseKey }} } }
      {{- end }}
    ports:
      - name: http
        containerPort: {{ $v.gateway.port }}
        protocol: TCP
    livenessProbe:
      httpGet: { path: /healthz, port: http }
      periodSeconds: 10
    readinessProbe:
      httpGet: { path: /readyz, port: http }
      periodSeconds: 5
    resources:
      {{- toYaml $c.resources | nindent 6 }}
    securityContext:
      {{- toYaml $v.securityContext | nindent 6 }}
    volumeMounts:
      - { name: home, mountPath: /var/lib/vend }
      - { name: tmp, mountPath: /tmp }
      - { name: config, mountPath: /etc/vend, readOnly: true }
      {{- if and $v.wallet.existingSecret (eq .role "gateway") }}
      - { name: wallet, mountPath: /var/run/vend/wallet, readOnly: true }
      {{- end }}
volumes:
  - name: home
    emptyDir: { sizeLimit: 256Mi }
  - name: tmp
    emptyDir: { medium: Memory, sizeLimit: 64Mi }
  - name: config
    configMap: { name: {{ include "vend.fullname" .root }} }
  {{- if and $v.wallet.existingSecret (eq .role "gateway") }}
  - name: wallet
    secret: { secretName: {{ $v.wallet.existingSecret }}, items: [{ key: keystore.json, path: keystore.json }] }
  {{- end }}
{{- with $c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
