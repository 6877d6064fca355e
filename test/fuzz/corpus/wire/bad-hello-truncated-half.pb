d’! Ÿ†ĞˆL}eš/ê ÅZĞ£¿O+‚,Ñ]l°ğ
"
miscpassing"
params